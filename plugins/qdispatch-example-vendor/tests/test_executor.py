"""The example_serial executor: one task at a time, in order, on one thread."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from qiskit import transpile

from qdispatch import ExecutorError, Provider, Task
from qdispatch.circuits import CircuitBatch
from qdispatch.contract import ProbeTask, check_executor, probe_circuits
from qdispatch.testing import wait_for, x_circuit
from qdispatch_example_vendor.executor import SerialExecutor


def test_keeps_the_executor_contract() -> None:
    report = check_executor("example_serial", backend="example_vendor")
    report.assert_ok()
    assert report.outcome("cancel queued") == "passed"
    assert report.outcome("persist/restore round trip") == "passed"


def test_tasks_run_one_at_a_time_in_submission_order(provider: Provider) -> None:
    backend = provider.get_backend("example_vendor")
    circuit = transpile(x_circuit(2, 1), backend)
    events: list[tuple[str, int, str]] = []

    def listener(kind: str, payload: Any) -> None:
        if kind == "started":
            events.append(("start", payload, threading.current_thread().name))

    executor = SerialExecutor()
    try:
        futures = []
        for index in range(6):
            task = Task(
                job_id="serial",
                index=index,
                circuits=CircuitBatch([circuit]),
                backend="example_vendor",
                backend_options={},
                shots=10,
                run_options={},
                listener=listener,
                device=backend.device,
            )
            future = executor.submit(task)
            future.add_done_callback(
                lambda _f, i=index: events.append(("end", i, threading.current_thread().name))
            )
            futures.append(future)
        for future in futures:
            assert future.result(timeout=60).success
    finally:
        executor.shutdown()
    assert [(kind, i) for kind, i, _ in events] == [(kind, i) for i in range(6) for kind in ("start", "end")]
    assert {thread for _, _, thread in events} == {"example-serial"}


def test_shutdown_without_wait_cancels_the_queue(tmp_path: Path) -> None:
    release = tmp_path / "release"
    started = tmp_path / "started"

    def probe(job_id: str, **options: Any) -> ProbeTask:
        return ProbeTask(
            job_id=job_id,
            index=0,
            circuits=CircuitBatch(probe_circuits(1, 1)),
            backend="contract_probe",
            backend_options={},
            shots=8,
            run_options=options,
        )

    executor = SerialExecutor()
    running = executor.submit(probe("running", probe_marker=str(started), probe_release=str(release)))
    queued = [executor.submit(probe(f"queued-{i}")) for i in range(3)]
    wait_for(started.exists, 60, "the first task to start", interval=0.01)
    executor.shutdown(wait=False)
    assert all(f.cancelled() for f in queued)
    release.touch()
    assert running.result(timeout=60).get_counts() == {"01": 8}
    with pytest.raises(ExecutorError, match="shut down"):
        executor.submit(probe("late"))


def test_jobs_on_the_device_run_on_it_whatever_the_provider_default(provider: Provider) -> None:
    assert provider.executor_name == "thread"
    backend = provider.get_backend("example_vendor")
    job = backend.run(transpile(x_circuit(1, 1), backend), shots=10)
    assert job.executor_name == "example_serial"
    assert isinstance(job.executor(), SerialExecutor)
    assert job.result(timeout=60).success
