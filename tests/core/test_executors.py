"""The built-in executors: thread and process, including a worker that dies."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import Future

import pytest
from qiskit.providers import JobStatus
from qiskit.result import Result

from qdispatch import ExecutorError, InvalidInputError, Provider, Task, WorkerDiedError
from qdispatch.circuits import CircuitBatch
from qdispatch.executors.process import ProcessExecutor
from qdispatch.executors.thread import ThreadExecutor
from qdispatch.testing import bell, seed_circuit, wait_for, x_circuit


def make_task(index: int = 0, backend: str = "aer", options: dict[str, object] | None = None) -> Task:
    return Task(
        job_id="job0",
        index=index,
        circuits=CircuitBatch([x_circuit(3, index % 4)]),
        backend=backend,
        backend_options=dict(options or {}),
        shots=16,
        run_options={},
    )


@pytest.fixture
def process_executor() -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(max_workers=2)
    yield executor
    executor.shutdown(wait=True)


@pytest.mark.parametrize(
    "make",
    [lambda: ThreadExecutor(max_workers=2), lambda: ProcessExecutor(max_workers=2)],
    ids=["thread", "process"],
)
def test_executor_runs_tasks_and_returns_results(make: object) -> None:
    executor = make()  # type: ignore[operator]
    try:
        futures: list[Future[Result]] = [executor.submit(make_task(i)) for i in range(4)]
        counts = [f.result(timeout=120).get_counts() for f in futures]
    finally:
        executor.shutdown(wait=True)
    assert counts == [{"000": 16}, {"001": 16}, {"011": 16}, {"111": 16}]


@pytest.mark.parametrize("make", [ThreadExecutor, ProcessExecutor], ids=["thread", "process"])
def test_executor_refuses_work_after_shutdown(make: type) -> None:
    executor = make(max_workers=1)
    executor.shutdown()
    with pytest.raises(ExecutorError, match="shut down"):
        executor.submit(make_task())


@pytest.mark.parametrize("make", [ThreadExecutor, ProcessExecutor], ids=["thread", "process"])
@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_max_workers_is_validated(make: type, bad: object) -> None:
    with pytest.raises(InvalidInputError, match="max_workers"):
        make(max_workers=bad)


def test_task_pickles_circuits_as_qpy() -> None:
    import pickle

    task = make_task(3)
    task.listener = lambda kind, payload: None
    data = pickle.dumps(task)
    assert b"QISKIT" in data  # the QPY header
    clone = pickle.loads(data)
    assert clone.circuits == task.circuits and clone.listener is None and clone.device is None


def test_a_dying_worker_fails_only_its_task(process_executor: ProcessExecutor) -> None:
    # The worker process runs `task.run()`; a backend name the worker cannot
    # build would be an error, not a death, so kill the worker from outside.
    long_task = Task(
        job_id="victim",
        index=0,
        circuits=CircuitBatch([bell()] * 400),
        backend="aer",
        backend_options={"max_parallel_threads": 1},
        shots=20000,
        run_options={},
    )
    started: list[int] = []
    long_task.listener = lambda kind, payload: started.append(1) if kind == "started" else None
    victim = process_executor.submit(long_task)
    others = [process_executor.submit(make_task(i)) for i in range(6)]
    wait_for(lambda: started, 60, "the long task to start")
    time.sleep(0.3)
    slot = next(s for s in process_executor._slots if s.future is victim)
    assert slot.process is not None
    os.kill(slot.process.pid, 9)
    with pytest.raises(WorkerDiedError, match="died with exit code -9"):
        victim.result(timeout=60)
    assert [f.result(timeout=120).get_counts() for f in others][:4] == [
        {"000": 16},
        {"001": 16},
        {"011": 16},
        {"111": 16},
    ]
    after = process_executor.submit(make_task(1))
    assert after.result(timeout=120).get_counts() == {"001": 16}


def test_process_executor_cancels_a_running_task_by_ending_its_worker(qdispatch_home: object) -> None:
    with Provider(executor="process", executor_options={"max_workers": 1}) as provider:
        backend = provider.get_backend("aer", max_parallel_threads=1)
        job = backend.run([bell()] * 400, shots=20000)
        wait_for(lambda: job.status() is JobStatus.RUNNING, 60, "the job to run", interval=0.01)
        pids = provider.executor().worker_pids()  # type: ignore[attr-defined]
        assert job.cancel() is True
        job.wait_for_final_state(timeout=30, wait=0.05)
        assert job.status() is JobStatus.CANCELLED
        next_job = backend.run(seed_circuit(), shots=10)
        assert next_job.result(timeout=120).get_counts() == {"1": 10}
        assert provider.executor().worker_pids() != pids  # type: ignore[attr-defined]


def test_worker_that_exits_inside_a_simulation_errors_the_job(throwaway_plugin: object) -> None:
    """A job whose worker calls os._exit ends in ERROR; the pool recovers and runs the next job."""
    with Provider(executor="process", executor_options={"max_workers": 1}) as provider:
        backend = provider.get_backend("throwaway")
        job = backend.run(x_circuit(1, 1), shots=10, exit_code=7)
        job.wait_for_final_state(timeout=60, wait=0.05)
        assert job.status() is JobStatus.ERROR
        assert job.error_message is not None and "died with exit code 7" in job.error_message
        fine = backend.run(x_circuit(1, 1), shots=10)
        assert fine.result(timeout=120).get_counts() == {"1": 10}
