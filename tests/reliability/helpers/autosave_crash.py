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
import time

from qiskit.providers import JobStatus

from qdispatch import Provider
from qdispatch.testing import bell, x_circuit


def main() -> None:
    store, path, hold = sys.argv[1:4]
    provider = Provider(executor="thread", store=store, store_options={"path": path})
    held = x_circuit(3, 3)
    held.metadata = {"sleep_while_exists": hold}
    provider.get_backend("faulty").run([bell(), held], shots=20, job_id="held-1", max_circuits_per_task=1)
    quick = provider.get_backend("aer").run([bell(), x_circuit(2, 1)], shots=20, job_id="quick-1")
    quick.result(timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        statuses = {s.job_id: s.status for s in provider.store.list()}
        if statuses == {"quick-1": JobStatus.DONE, "held-1": JobStatus.RUNNING}:
            break
        time.sleep(0.02)
    else:
        raise SystemExit(f"autosave did not record the jobs: {statuses}")
    print("saved", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
