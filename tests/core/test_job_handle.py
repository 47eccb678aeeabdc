"""The job handle: every method of AerJob and AQTJob, on the default provider."""

from __future__ import annotations

import concurrent.futures
import gc
import time
import weakref

import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.providers import JobStatus, JobV1
from qiskit.providers.exceptions import JobTimeoutError

from qdispatch import (
    Job,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    JobStateError,
    Progress,
    Provider,
)
from qdispatch.testing import backend_registered, bell, seed_circuit, x_circuit


def slow_circuit(qubits: int = 18, depth: int = 30) -> QuantumCircuit:
    """A circuit that keeps Aer busy for a while on one thread."""
    qc = QuantumCircuit(qubits)
    for layer in range(depth):
        for q in range(qubits):
            qc.rx(0.1 * (layer + q + 1), q)
        for q in range(0, qubits - 1, 2 if layer % 2 else 1):
            qc.cx(q, q + 1)
    qc.measure_all()
    return qc


def test_seed_example_runs_on_aer(provider: Provider) -> None:
    backend = provider.get_backend("aer")
    job = backend.run(transpile(seed_circuit(), backend), shots=100)
    result = job.result()
    assert isinstance(job, JobV1)
    assert result.get_counts() == {"1": 100}
    assert job.status() is JobStatus.DONE
    assert result.success


def test_identity_and_accessors(provider: Provider) -> None:
    backend = provider.get_backend("aer")
    circuits = [bell(), x_circuit(3, 2)]
    job = backend.run(circuits, shots=50, tags=["demo"])
    job.result()
    assert isinstance(job.job_id(), str) and len(job.job_id()) == 32
    assert job.backend() is backend
    assert [c.name for c in job.circuits()] == [c.name for c in circuits]
    assert job.executor() is provider.executor("thread")
    assert job.executor_name == "thread"
    assert job.shots == 50
    assert job.tags == ("demo",)
    assert job.done() and job.in_final_state()
    assert not job.running() and not job.cancelled()
    assert job.error_message is None


def test_submit_twice_raises(provider: Provider) -> None:
    job = provider.get_backend("aer").run(seed_circuit(), shots=10)
    with pytest.raises(JobStateError, match="already submitted"):
        job.submit()


def test_result_times_out_then_succeeds(provider: Provider) -> None:
    backend = provider.get_backend("aer", max_parallel_threads=1)
    job = backend.run(transpile(slow_circuit(), backend), shots=10)
    with pytest.raises(concurrent.futures.TimeoutError):
        job.result(timeout=0.001)
    assert job.result(timeout=120).success


def test_progress_counts_circuits_per_task(provider: Provider) -> None:
    backend = provider.get_backend("aer")
    job = backend.run([x_circuit(2, 1)] * 25, shots=5, max_circuits_per_task=10)
    job.result()
    assert job.progress() == Progress(25, 25)
    assert len(job.result().results) == 25


def test_results_merged_in_circuit_order(provider: Provider) -> None:
    backend = provider.get_backend("aer")
    circuits = [x_circuit(4, k % 5) for k in range(23)]
    job = backend.run(circuits, shots=20, max_circuits_per_task=4)
    counts = job.result().get_counts()
    assert counts == [{"0" * (4 - k % 5) + "1" * (k % 5): 20} for k in range(23)]


def test_wait_for_final_state_calls_back_and_returns(provider: Provider) -> None:
    backend = provider.get_backend("aer", max_parallel_threads=1)
    job = backend.run(transpile(slow_circuit(16, 20), backend), shots=10)
    seen: list[tuple[str, JobStatus]] = []
    job.wait_for_final_state(
        timeout=120, wait=0.01, callback=lambda jid, status, j: seen.append((jid, status))
    )
    assert job.status() is JobStatus.DONE
    assert all(jid == job.job_id() and status not in (JobStatus.DONE,) for jid, status in seen)


def test_wait_for_final_state_times_out(provider: Provider) -> None:
    backend = provider.get_backend("aer", max_parallel_threads=1)
    job = backend.run(transpile(slow_circuit(), backend), shots=10)
    with pytest.raises(JobTimeoutError):
        job.wait_for_final_state(timeout=0.001, wait=0.001)
    job.result(timeout=120)


def test_cancel_queued_job(qdispatch_home: object) -> None:
    with Provider(executor_options={"max_workers": 1}) as provider:
        backend = provider.get_backend("aer", max_parallel_threads=1)
        blocker = backend.run(transpile(slow_circuit(), backend), shots=10)
        queued = backend.run(seed_circuit(), shots=10)
        assert queued.status() is JobStatus.QUEUED
        assert queued.cancel() is True
        assert queued.cancelled()
        assert queued.status() is JobStatus.CANCELLED
        with pytest.raises(JobCancelledError, match="cancelled"):
            queued.result()
        with pytest.raises(concurrent.futures.CancelledError):
            queued.result()
        blocker.result(timeout=120)


def test_cancel_running_job_on_threads_is_honest(qdispatch_home: object) -> None:
    with Provider(executor_options={"max_workers": 1}) as provider:
        backend = provider.get_backend("aer", max_parallel_threads=1)
        job = backend.run(transpile(slow_circuit(), backend), shots=10)
        deadline = time.monotonic() + 60
        while job.status() is not JobStatus.RUNNING and time.monotonic() < deadline:
            time.sleep(0.005)
        if job.status() is JobStatus.RUNNING:
            assert job.cancel() is False  # a thread cannot be stopped: say so
        job.result(timeout=120)
        assert job.cancel() is False  # finished jobs cannot be cancelled


def test_failed_simulation_makes_the_job_error(provider: Provider) -> None:
    backend = provider.get_backend("aer", method="statevector")
    qc = QuantumCircuit(20)
    qc.h(range(20))
    qc.measure_all()
    job = backend.run(qc, shots=10, max_memory_mb=1)  # Aer answers success == False
    with pytest.raises(JobFailedError) as info:
        job.result()
    assert job.status() is JobStatus.ERROR
    assert job.error_message and "Insufficient memory" in job.error_message
    assert job.error_message in str(info.value)


def test_progress_of_a_failed_job_counts_the_tasks_that_finished(provider: Provider) -> None:
    backend = provider.get_backend("aer", method="statevector")
    too_big = QuantumCircuit(20)
    too_big.h(range(20))
    too_big.measure_all()
    job = backend.run([x_circuit(1, 1), too_big], shots=10, max_circuits_per_task=1, max_memory_mb=1)
    with pytest.raises(JobFailedError):
        job.result()
    assert job.status() is JobStatus.ERROR
    assert job.progress() == Progress(1, 2)


def test_a_finished_job_is_freed_as_soon_as_it_is_dropped(provider: Provider) -> None:
    """No reference cycle keeps a finished job (and its result) alive until the cycle collector runs."""
    backend = provider.get_backend("aer")
    gc.collect()
    gc.disable()
    try:
        job = backend.run([x_circuit(2, 1)] * 3, shots=5, max_circuits_per_task=1)
        job.result()
        dropped = weakref.ref(job)
        del job
        deadline = time.monotonic() + 10  # a pool thread may still be returning from the job's last callback
        while dropped() is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert dropped() is None
    finally:
        gc.enable()


def test_persist_and_restore_finished_job(provider: Provider) -> None:
    job = provider.get_backend("aer").run(bell(), shots=64, seed_simulator=7)
    counts = job.result().get_counts()
    location = job.persist()
    assert job.job_id() in location
    restored = Job.restore(job.job_id(), provider=provider)
    assert restored.status() is JobStatus.DONE
    assert restored.result().get_counts() == counts
    assert restored.circuits() == job.circuits()
    assert not restored.resubmitted
    again = Job.restore(
        job.job_id(), provider=provider
    )  # kept in the store by default, as the README assumes
    assert again.result().get_counts() == counts


def test_restore_removes_the_record_only_when_asked(provider: Provider) -> None:
    job = provider.get_backend("aer").run(bell(), shots=8)
    job.result()
    job.persist()
    assert Job.restore(job.job_id(), provider=provider, remove_from_store=True).status() is JobStatus.DONE
    with pytest.raises(JobNotFoundError):
        provider.job(job.job_id())


def test_restore_missing_job(provider: Provider) -> None:
    with pytest.raises(JobNotFoundError, match="not found"):
        Job.restore("0123456789abcdef", provider=provider)


def test_repr_and_html(provider: Provider) -> None:
    job = provider.get_backend("aer").run(seed_circuit(), shots=5)
    job.result()
    assert "status=DONE" in repr(job) and job.job_id() in repr(job)
    page = job._repr_html_()
    assert "DONE" in page and "aer" in page and "thread" in page and "<progress" in page


def test_a_failed_job_can_be_run_again_after_restore(provider: Provider) -> None:
    qc = QuantumCircuit(20)
    qc.h(range(20))
    qc.measure_all()
    job = provider.get_backend("aer", method="statevector").run(qc, shots=4, max_memory_mb=1)
    job.wait_for_final_state(timeout=60, wait=0.05)
    job.persist()
    kept = Job.restore(job.job_id(), provider=provider, remove_from_store=False)
    assert kept.status() is JobStatus.ERROR and not kept.resubmitted  # by default, a failure stays a failure
    with pytest.warns(RuntimeWarning, match="submitted again"):
        again = Job.restore(job.job_id(), provider=provider, resubmit=True)
    again.wait_for_final_state(timeout=60, wait=0.05)
    assert again.resubmitted and again.status() is JobStatus.ERROR  # same memory limit, same honest failure
    assert again.job_id() == job.job_id()


def test_result_returns_only_after_the_finished_hooks_ran(provider: Provider, plugin_manager: object) -> None:
    from qdispatch import hookimpl

    finished: list[str] = []

    class SlowWatcher:
        @hookimpl
        def job_finished(self, job: Job) -> None:
            time.sleep(0.3)  # an autosave writing to a slow disk
            finished.append(job.job_id())

    plugin_manager.register(SlowWatcher(), name="slow-watcher")  # type: ignore[attr-defined]
    try:
        job = provider.get_backend("aer").run(seed_circuit(), shots=5)
        job.result()
        assert finished == [job.job_id()]
    finally:
        plugin_manager.unregister(name="slow-watcher")  # type: ignore[attr-defined]


def test_device_checks_run_before_anything_is_submitted(provider: Provider, plugin_manager: object) -> None:
    from qdispatch import InvalidInputError

    class Picky:
        name = "picky"
        max_shots, max_circuits, executor, secret_options = 100, None, None, frozenset()

        def __init__(self) -> None:
            self.target = provider.get_backend("aer").target

        def check_circuits(
            self, circuits: list[QuantumCircuit], shots: int, run_options: dict[str, object]
        ) -> None:
            if "memory" in run_options:
                raise InvalidInputError("picky devices keep no per-shot memory")

        def run_circuits(self, circuits: object, shots: int, run_options: object) -> object:
            raise AssertionError("must not run")

        def provenance(self) -> dict[str, object]:
            return {}

    with backend_registered(plugin_manager, "picky", Picky):
        with pytest.raises(InvalidInputError, match="per-shot memory"):
            provider.get_backend("picky").run(seed_circuit(), shots=5, memory=True)
        assert provider.jobs() == []


def test_a_device_returning_no_result_errors_the_job_with_a_reason(
    provider: Provider, plugin_manager: object
) -> None:
    class Forgetful:
        name = "forgetful"
        max_shots, max_circuits, executor, secret_options = 100, None, None, frozenset()

        def __init__(self) -> None:
            self.target = provider.get_backend("aer").target

        def run_circuits(self, circuits: object, shots: int, run_options: object) -> object:
            return {"counts": {"0": shots}}  # a plugin bug: not a qiskit Result

        def provenance(self) -> dict[str, object]:
            return {}

    with backend_registered(plugin_manager, "forgetful", Forgetful):
        job = provider.get_backend("forgetful").run(seed_circuit(), shots=5)
        with pytest.raises(JobFailedError, match=r"returned a dict, not a qiskit\.result\.Result"):
            job.result(timeout=30)
        assert job.status() is JobStatus.ERROR


def test_result_with_a_zero_timeout_answers_at_once(provider: Provider) -> None:
    job = provider.get_backend("aer").run(slow_circuit(), shots=10)
    with pytest.raises(concurrent.futures.TimeoutError):
        job.result(timeout=0)
    job.cancel()
    job.wait_for_final_state(timeout=120, wait=0.05)
    done = provider.get_backend("aer").run(seed_circuit(), shots=5)
    done.wait_for_final_state(timeout=60, wait=0.05)
    assert done.result(timeout=0).get_counts()
