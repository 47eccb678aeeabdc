"""The process executor under faults: workers killed or exiting mid-task, tasks raising."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest
from qiskit.providers import JobStatus

from qdispatch import JobFailedError, Provider
from qdispatch.testing import wait_for, x_circuit

REPETITIONS = 10
MAX_WORKERS = 2


def workers() -> list[psutil.Process]:
    """This process's live worker processes of the process executor."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "_worker_main" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def children() -> set[int]:
    """Process ids of every child of this process, zombies included."""
    return {child.pid for child in psutil.Process().children(recursive=True)}


def expected(k: int) -> dict[str, int]:
    """Counts of ``x_circuit(3, k)`` at 20 shots."""
    return {"0" * (3 - k) + "1" * k: 20}


@pytest.mark.slow
def test_workers_dying_mid_task_fail_only_their_job(tmp_path: Path, faulty_plugin: Path, faults) -> None:
    before = children()
    provider = Provider(
        executor="process",
        executor_options={"max_workers": MAX_WORKERS},
        store="file",
        store_options={"path": str(tmp_path / "jobs")},
    )
    messages = []
    most_workers = 0
    with provider:
        backend = provider.get_backend("faulty")
        for rep in range(REPETITIONS):
            killed = rep % 2 == 0
            victim_circuit = x_circuit(2, 1)
            pidfile, hold = tmp_path / f"victim-{rep}.pid", tmp_path / f"hold-{rep}"
            if killed:
                hold.touch()
                victim_circuit.metadata = {"pidfile": str(pidfile), "sleep_while_exists": str(hold)}
            else:
                victim_circuit.metadata = {"exit": 40 + rep}
            victim = backend.run(victim_circuit, shots=20, job_id=f"victim-{rep}")
            others = [backend.run(x_circuit(3, k), shots=20, job_id=f"other-{rep}-{k}") for k in range(4)]
            if killed:
                wait_for(pidfile.exists, 90, "the victim task to start")
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            with pytest.raises(JobFailedError) as caught:
                victim.result(timeout=90)
            assert victim.status() is JobStatus.ERROR
            message = victim.error_message or ""
            assert "worker process" in message and f"job victim-{rep}" in message
            assert ("killed by SIGKILL" if killed else f"exit code {40 + rep}") in message
            assert message in str(caught.value)
            messages.append(message)
            for k, job in enumerate(others):
                assert job.result(timeout=90).get_counts() == expected(k)
            alive = workers()
            most_workers = max(most_workers, len(alive))
            assert len(alive) <= MAX_WORKERS
            hold.unlink(missing_ok=True)
        # The pool recovered: a fresh batch all finishes, with correct results.
        batch = [backend.run(x_circuit(3, k % 4), shots=20) for k in range(8)]
        assert [job.result(timeout=90).get_counts() for job in batch] == [expected(k % 4) for k in range(8)]
    wait_for(lambda: workers() == [], 30, "the workers to stop after close()")
    wait_for(lambda: children() <= before, 30, "every child process to be reaped")
    faults.record(
        "process executor",
        "worker SIGKILLed mid-task (4 other jobs queued and running alongside)",
        REPETITIONS // 2,
        "that job ERROR with 'the worker process (pid N) running task 0 of job ... died with exit code -9 "
        "(killed by SIGKILL); the executor started a new worker'; the 20 others DONE with correct counts",
    )
    faults.record(
        "process executor",
        "worker calling os._exit(code) mid-task",
        REPETITIONS - REPETITIONS // 2,
        "that job ERROR naming the exit code; the others DONE with correct counts",
    )
    faults.record(
        "process executor",
        f"pool recovery and leaks after {REPETITIONS} worker deaths",
        REPETITIONS,
        f"never more than {most_workers} live workers (max_workers={MAX_WORKERS}); a fresh batch of 8 jobs "
        "all DONE; after close() no worker and no zombie child left (checked with psutil)",
    )


def test_a_task_raising_in_a_worker_fails_its_job_and_keeps_the_worker(
    tmp_path: Path, faulty_plugin: Path, faults
) -> None:
    with Provider(
        executor="process",
        executor_options={"max_workers": 1},
        store="file",
        store_options={"path": str(tmp_path / "jobs")},
    ) as provider:
        backend = provider.get_backend("faulty")
        assert backend.run(x_circuit(3, 1), shots=20).result(timeout=90).get_counts() == expected(1)
        pids = [p.pid for p in workers()]
        failing = x_circuit(2, 1)
        failing.metadata = {"raise": "calibration data missing"}
        job = backend.run(failing, shots=20)
        with pytest.raises(JobFailedError, match="RuntimeError: calibration data missing"):
            job.result(timeout=90)
        assert backend.run(x_circuit(3, 2), shots=20).result(timeout=90).get_counts() == expected(2)
        assert [p.pid for p in workers()] == pids, "the worker should have survived a raising task"
    faults.record(
        "process executor",
        "task raising an exception inside a worker",
        1,
        "job ERROR with 'RuntimeError: calibration data missing'; the same worker ran the next job",
    )


def test_an_idle_worker_killed_is_replaced_without_failing_a_job(tmp_path: Path, faults) -> None:
    with Provider(
        executor="process",
        executor_options={"max_workers": 1},
        store="file",
        store_options={"path": str(tmp_path / "jobs")},
    ) as provider:
        backend = provider.get_backend("aer")
        assert backend.run(x_circuit(3, 1), shots=20).result(timeout=90).get_counts() == expected(1)
        (idle,) = workers()
        idle.kill()  # the executor, not psutil, must reap it: wait for it to be dead only
        wait_for(
            lambda: not idle.is_running() or idle.status() == psutil.STATUS_ZOMBIE, 30, "the worker to die"
        )
        jobs = [backend.run(x_circuit(3, k), shots=20) for k in range(4)]
        assert [job.result(timeout=90).get_counts() for job in jobs] == [expected(k) for k in range(4)]
        assert [p.pid for p in workers()] != [idle.pid]
    faults.record(
        "process executor",
        "idle worker SIGKILLed between tasks",
        1,
        "the next task started a new worker; all 4 following jobs DONE, none failed",
    )


def test_workers_that_cannot_start_give_a_clear_error_and_the_pool_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults
) -> None:
    import qdispatch.executors.process as process_executor

    with Provider(
        executor="process",
        executor_options={"max_workers": 1},
        store="file",
        store_options={"path": str(tmp_path / "jobs")},
    ) as provider:
        backend = provider.get_backend("aer")
        with monkeypatch.context() as patched:
            patched.setattr(process_executor, "WORKER_COMMAND", "import sys; sys.exit(5)")
            job = backend.run(x_circuit(3, 1), shots=20)
            with pytest.raises(
                JobFailedError,
                match=r"no worker process could take task 0 .* 3 in a row ended "
                r"before starting it, the last \(pid \d+\) died with exit code 5",
            ):
                job.result(timeout=90)
        assert backend.run(x_circuit(3, 2), shots=20).result(timeout=90).get_counts() == expected(2)
    faults.record(
        "process executor",
        "worker processes exiting at start-up (a broken worker environment)",
        process_executor.START_ATTEMPTS,
        "the task was offered to 3 fresh workers, then its job ERROR with 'no worker process could take "
        "task 0 ... died with exit code 5'; with the environment fixed, the next job DONE",
    )
