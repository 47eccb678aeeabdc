"""Run jobs with autosave on, then crash (SIGKILL itself) without ever calling persist().

    python autosave_crash.py STORE PATH HOLD

Submits job ``quick-1`` (finishes at once) and job ``held-1`` on the
``faulty`` backend, which keeps running while the file HOLD exists. Once the
store shows ``quick-1`` DONE and ``held-1`` RUNNING (autosave wrote both), it
prints ``saved`` and kills itself with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import sys

from qiskit.providers import JobStatus

from qdispatch import Provider
from qdispatch.testing import bell, wait_for, x_circuit


def stored(provider: Provider) -> dict[str, JobStatus]:
    """Return the status of every job in the provider's store."""
    return {s.job_id: s.status for s in provider.store.list()}


def main() -> None:
    store, path, hold = sys.argv[1:4]
    provider = Provider(executor="thread", store=store, store_options={"path": path})
    held = x_circuit(3, 3)
    held.metadata = {"sleep_while_exists": hold}
    provider.get_backend("faulty").run([bell(), held], shots=20, job_id="held-1", max_circuits_per_task=1)
    quick = provider.get_backend("aer").run([bell(), x_circuit(2, 1)], shots=20, job_id="quick-1")
    quick.result(timeout=60)
    wanted = {"quick-1": JobStatus.DONE, "held-1": JobStatus.RUNNING}
    try:
        wait_for(lambda: stored(provider) == wanted, 60, f"autosave to record {wanted}")
    except AssertionError as exc:
        raise SystemExit(f"{exc}; the store holds {stored(provider)}") from None
    print("saved", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
