"""Persist jobs continuously in a child process and SIGKILL it at random moments, again and again.

    python persist_and_die.py STORE PATH LOG KILLS SEED

The parent imports qdispatch and Aer once, then, KILLS times, forks a child
that runs jobs on ``aer`` and persists each one twice (just submitted, then
finished) into the STORE (``file`` or ``sqlite``) at PATH, for ever. Around
every ``persist()`` the child appends to LOG: ``S <job id> <n>`` before it and
``P <job id> <n>`` after it returned (fsynced). Once the child is running the
parent waits a random time and sends SIGKILL. It prints a JSON summary.

Job ``r<round>-<i>`` has circuits ``x_circuit(4, (i + j) % 5)`` named ``c<j>``
for ``j < CIRCUITS``, run with ``SHOTS`` shots, so a test can check every
restored record against what it must hold.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import sys
import time

CIRCUITS = 6
SHOTS = 32


def append(log_fd: int, line: str, sync: bool) -> None:
    """Append one line to the log; with ``sync``, make it durable before going on."""
    os.write(log_fd, line.encode())
    if sync:
        os.fsync(log_fd)


def child(store: str, path: str, log_fd: int, round_no: int, ready_fd: int) -> None:
    """Run and persist jobs until killed."""
    from qdispatch import Provider
    from qdispatch.testing import x_circuit

    provider = Provider(
        executor="thread", executor_options={"max_workers": 1}, store=store, store_options={"path": path}
    )
    backend = provider.get_backend("aer")
    os.write(ready_fd, b"r")
    os.close(ready_fd)
    i = 0
    while True:
        job_id = f"r{round_no:02d}-{i:05d}"
        circuits = []
        for j in range(CIRCUITS):
            circuit = x_circuit(4, (i + j) % 5)
            circuit.name = f"c{j}"
            circuits.append(circuit)
        job = backend.run(circuits, shots=SHOTS, job_id=job_id, tags=[f"round-{round_no}"])
        append(log_fd, f"S {job_id} 1\n", sync=False)
        job.persist()
        append(log_fd, f"P {job_id} 1\n", sync=True)
        job.result()
        append(log_fd, f"S {job_id} 2\n", sync=False)
        job.persist()
        append(log_fd, f"P {job_id} 2\n", sync=True)
        i += 1


def main() -> None:
    store, path, log, kills, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import qdispatch.provider  # noqa: F401  (imported once here, so each fork starts at once)
    import qdispatch_aer.device  # noqa: F401
    from qdispatch.plugins import get_plugin_manager

    get_plugin_manager().catalogue()
    rng = random.Random(seed)
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    summary: dict[str, list[object]] = {"delays": [], "child_failures": []}
    for round_no in range(kills):
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            try:
                child(store, path, log_fd, round_no, ready_w)
            except BaseException as exc:
                print(f"child {round_no} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                os._exit(3)
        os.close(ready_w)
        readable, _, _ = select.select([ready_r], [], [], 60)
        started = bool(readable) and os.read(ready_r, 1) == b"r"
        os.close(ready_r)
        if started:
            delay = rng.uniform(0.05, 0.6)
            time.sleep(delay)
            summary["delays"].append(round(delay, 3))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if not started or not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
            summary["child_failures"].append({"round": round_no, "started": started, "status": status})
    os.close(log_fd)
    print(json.dumps({"kills": len(summary["delays"]), **summary}))


if __name__ == "__main__":
    main()
