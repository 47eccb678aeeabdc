"""Cancellation: queued chunks stop, running ones stop where the executor can, and the answer is true."""

from __future__ import annotations

from pathlib import Path

import pytest
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus

from qdispatch import JobCancelledError, JobFailedError, Provider
from qdispatch.testing import wait_for, x_circuit

CHUNKS = 5


def chunked_circuits(tmp_path: Path, hold_first: bool) -> list[QuantumCircuit]:
    """``CHUNKS`` circuits that log when they run; the first waits while ``hold`` exists."""
    circuits = []
    for k in range(CHUNKS):
        circuit = x_circuit(2, k % 3)
        circuit.name = f"c{k}"
        circuit.metadata = {"runlog": str(tmp_path / "ran.log")}
        if k == 0 and hold_first:
            circuit.metadata.update(
                pidfile=str(tmp_path / "started"), sleep_while_exists=str(tmp_path / "hold")
            )
        circuits.append(circuit)
    return circuits


def ran(tmp_path: Path) -> list[str]:
    """Names of the circuits that ran."""
    log = tmp_path / "ran.log"
    return log.read_text().split() if log.exists() else []


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_cancel_stops_queued_chunks_and_tells_the_truth(
    executor: str, tmp_path: Path, faulty_plugin: Path, faults
) -> None:
    (tmp_path / "hold").touch()
    with Provider(
        executor=executor,
        executor_options={"max_workers": 1},
        store="file",
        store_options={"path": str(tmp_path / "jobs")},
    ) as provider:
        backend = provider.get_backend("faulty")
        job = backend.run(chunked_circuits(tmp_path, hold_first=True), shots=10, max_circuits_per_task=1)
        wait_for((tmp_path / "started").exists, 90, "the first chunk to start")
        stopped = job.cancel()
        # A thread cannot be stopped mid-simulation, so the thread executor must say False;
        # the process executor ends the worker running the chunk, so nothing more runs: True.
        assert stopped is (executor == "process")
        (tmp_path / "hold").unlink()
        job.wait_for_final_state(timeout=90, wait=0.1)
        assert job.status() is JobStatus.CANCELLED and job.cancelled()
        assert ran(tmp_path) == ["c0"], "a queued chunk ran after cancel()"
        with pytest.raises(JobCancelledError, match=f"job '{job.job_id()}' was cancelled; it has no result"):
            job.result()
        assert job.cancel() is False  # already final
        after = backend.run(x_circuit(3, 3), shots=10)
        assert after.result(timeout=90).get_counts() == {"111": 10}
    faults.record(
        "cancellation",
        f"cancel() of a job with 1 running and {CHUNKS - 1} queued chunks ({executor} executor)",
        1,
        f"cancel() returned {stopped} ("
        + ("the running thread cannot be stopped" if executor == "thread" else "the running worker was ended")
        + f"); none of the {CHUNKS - 1} queued chunks ran; status CANCELLED; result() raised "
        "JobCancelledError \"job '...' was cancelled; it has no result\"; the executor ran the next job",
    )


def test_cancel_of_a_wholly_queued_job_returns_true_and_nothing_runs(
    tmp_path: Path, faulty_plugin: Path, faults
) -> None:
    (tmp_path / "hold").touch()
    blocker = x_circuit(1, 1)
    blocker.metadata = {"pidfile": str(tmp_path / "started"), "sleep_while_exists": str(tmp_path / "hold")}
    with Provider(
        executor="thread",
        executor_options={"max_workers": 1},
        store="file",
        store_options={"path": str(tmp_path / "jobs")},
    ) as provider:
        backend = provider.get_backend("faulty")
        first = backend.run(blocker, shots=10)
        wait_for((tmp_path / "started").exists, 60, "the blocking job to start")
        queued = backend.run(chunked_circuits(tmp_path, hold_first=False), shots=10, max_circuits_per_task=1)
        assert queued.status() is JobStatus.QUEUED
        assert queued.cancel() is True
        assert queued.status() is JobStatus.CANCELLED
        (tmp_path / "hold").unlink()
        assert first.result(timeout=60).get_counts() == {"1": 10}
        assert ran(tmp_path) == []
        with pytest.raises(JobCancelledError):
            queued.result()
    faults.record(
        "cancellation",
        f"cancel() of a job whose {CHUNKS} chunks were all queued behind another job",
        1,
        "cancel() returned True, status CANCELLED at once, none of its chunks ever ran",
    )


def test_cancel_of_a_finished_job_returns_false_and_changes_nothing(
    tmp_path: Path, faulty_plugin: Path, faults
) -> None:
    with Provider(store="file", store_options={"path": str(tmp_path / "jobs")}) as provider:
        done = provider.get_backend("aer").run(x_circuit(2, 2), shots=10)
        counts = done.result(timeout=60).get_counts()
        failing = x_circuit(2, 1)
        failing.metadata = {"raise": "boom"}
        failed = provider.get_backend("faulty").run(failing, shots=10)
        with pytest.raises(JobFailedError):
            failed.result(timeout=60)
        assert done.cancel() is False and done.status() is JobStatus.DONE
        assert done.result().get_counts() == counts == {"11": 10}
        assert failed.cancel() is False and failed.status() is JobStatus.ERROR
        done.persist()
        restored = provider.job(done.job_id())
        assert restored.cancel() is False and restored.result().get_counts() == counts
    faults.record(
        "cancellation",
        "cancel() of finished jobs (DONE, ERROR, and DONE restored from the store)",
        3,
        "each returned False; status and result unchanged",
    )
