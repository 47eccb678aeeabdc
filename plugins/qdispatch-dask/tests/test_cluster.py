"""Jobs on a running scheduler (the ``address`` path): status, results, cancellation, dying workers."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import pytest
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus

from qdispatch import JobCancelledError, JobFailedError, Provider
from qdispatch.contract import check_executor
from qdispatch.testing import HookRecorder, bell, x_circuit
from qdispatch_dask.executor import DaskExecutor
from qdispatch_dask.testing import DaskCluster, heavy_circuit, wait_until
from qdispatch_dask.worker import WORKER_METADATA_KEY


@pytest.fixture
def dask_provider(cluster: DaskCluster) -> Iterator[Provider]:
    """A provider whose jobs run on the shared cluster."""
    with Provider(executor="dask", executor_options={"address": cluster.address}) as provider:
        yield provider


def workers_of(result: object) -> list[str]:
    """Return the worker address recorded in each circuit's result metadata."""
    return [exp.metadata[WORKER_METADATA_KEY] for exp in result.results]  # type: ignore[attr-defined]


def test_executor_keeps_the_plugin_contract(cluster: DaskCluster) -> None:
    report = check_executor("dask", {"address": cluster.address}, timeout=60)
    report.assert_ok()
    assert report.outcome("cancel queued") == "passed"
    assert report.outcome("cancel running") == "skipped"  # a worker thread cannot be interrupted


def test_job_runs_on_the_cluster(
    dask_provider: Provider, cluster: DaskCluster, hook_recorder: HookRecorder
) -> None:
    backend = dask_provider.get_backend("aer", max_parallel_threads=1)
    job = backend.run(bell(), shots=200, seed_simulator=7)
    result = job.result(timeout=60)
    assert job.status() is JobStatus.DONE
    assert set(result.get_counts()) <= {"00", "11"}
    assert sum(result.get_counts().values()) == 200
    assert isinstance(job.executor(), DaskExecutor)
    assert workers_of(result)[0] in cluster.addresses().values()
    names = hook_recorder.names(job.job_id())
    assert names[:2] == ["job_created", "job_submitted"]
    assert names.count("job_finished") == 1
    assert hook_recorder.transitions(job.job_id())[-1][1] == "DONE"


def test_forty_circuits_run_in_chunks_on_both_workers(dask_provider: Provider, cluster: DaskCluster) -> None:
    backend = dask_provider.get_backend("aer", max_parallel_threads=1)
    circuits = [x_circuit(5, i % 6) for i in range(40)]
    job = backend.run(circuits, shots=20, max_circuits_per_task=5)
    result = job.result(timeout=60)
    assert [result.get_counts(i) for i in range(40)] == [
        {"0" * (5 - i % 6) + "1" * (i % 6): 20} for i in range(40)
    ]
    ran_on = set(workers_of(result))
    assert ran_on == set(cluster.addresses().values()), "both workers must have run chunks"
    assert job.progress().finished_count == 40


def test_options_travel_with_the_task(dask_provider: Provider) -> None:
    qc = QuantumCircuit(3)
    qc.h(range(3))
    qc.measure_all()
    dask_counts = (
        dask_provider.get_backend("aer", seed_simulator=11, max_parallel_threads=1)
        .run(qc, shots=300)
        .result(timeout=60)
        .get_counts()
    )
    with Provider(executor="thread") as local:
        thread_counts = (
            local.get_backend("aer", seed_simulator=11, max_parallel_threads=1)
            .run(qc, shots=300)
            .result(timeout=60)
            .get_counts()
        )
    assert dask_counts == thread_counts
    assert len(dask_counts) > 4  # really random, so equal counts mean the same seed was used


def test_status_progress_and_timeout_while_running(
    dask_provider: Provider, cluster: DaskCluster, hook_recorder: HookRecorder
) -> None:
    backend = dask_provider.get_backend("aer", max_parallel_threads=1)
    job = backend.run([heavy_circuit(), heavy_circuit()], shots=5, max_circuits_per_task=1)
    assert job.status() in (JobStatus.QUEUED, JobStatus.RUNNING)
    wait_until(lambda: job.status() is JobStatus.RUNNING, 30, "the job to run")
    assert job.progress().finished_count < 2
    with pytest.raises(concurrent.futures.TimeoutError):
        job.result(timeout=0.01)
    job.wait_for_final_state(timeout=60, wait=0.1)
    assert job.status() is JobStatus.DONE
    assert job.progress().finished_count == 2
    assert hook_recorder.transitions(job.job_id()) == [
        ("INITIALIZING", "QUEUED"),
        ("QUEUED", "RUNNING"),
        ("RUNNING", "DONE"),
    ]


def test_job_waiting_for_busy_workers_is_queued(
    dask_provider: Provider, cluster: DaskCluster, hook_recorder: HookRecorder
) -> None:
    backend = dask_provider.get_backend("aer", max_parallel_threads=1)
    busy = backend.run([heavy_circuit(), heavy_circuit()], shots=5, max_circuits_per_task=1)
    wait_until(lambda: len(cluster.processing_workers(busy.job_id())) == 2, 30, "both workers to take a task")
    waiting = backend.run(bell(), shots=10)
    assert waiting.status() is JobStatus.QUEUED  # both workers are still simulating
    assert waiting.result(timeout=60).success and busy.result(timeout=60).success
    assert hook_recorder.transitions(waiting.job_id())[0] == ("INITIALIZING", "QUEUED")
    assert hook_recorder.transitions(waiting.job_id())[-1][1] == "DONE"


def test_cancel_drops_queued_tasks_and_lets_running_ones_finish(
    dask_provider: Provider, cluster: DaskCluster
) -> None:
    backend = dask_provider.get_backend("aer", max_parallel_threads=1)
    alone = backend.run(heavy_circuit(), shots=5)
    mixed = backend.run([heavy_circuit() for _ in range(3)], shots=5, max_circuits_per_task=1)
    wait_until(lambda: alone.status() is mixed.status() is JobStatus.RUNNING, 30, "both jobs to run")
    # Now both worker threads are busy, one with each job, for a second or more.
    queued = backend.run(bell(), shots=10)
    assert queued.status() is JobStatus.QUEUED
    assert queued.cancel() is True
    assert queued.status() is JobStatus.CANCELLED
    # A worker thread cannot be interrupted: cancel() says False, the two
    # queued tasks of ``mixed`` are dropped, and it ends CANCELLED once its
    # running task has finished; ``alone`` had nothing queued, so it finishes.
    assert mixed.cancel() is False
    assert alone.cancel() is False
    with pytest.raises(JobCancelledError):
        mixed.result(timeout=60)
    assert mixed.status() is JobStatus.CANCELLED
    assert alone.result(timeout=60).success and alone.status() is JobStatus.DONE
    for job in (queued, mixed):
        wait_until(
            lambda job=job: not cluster.scheduler_keys(job.job_id()), 30, "the scheduler to forget the tasks"
        )
    assert cluster.computed_keys(queued.job_id()) == []
    assert len(cluster.computed_keys(mixed.job_id())) == 1  # the two dropped tasks never ran


def test_shutdown_without_waiting_ends_every_task_cancelled(cluster: DaskCluster) -> None:
    provider = Provider(executor="dask", executor_options={"address": cluster.address})
    try:
        backend = provider.get_backend("aer", max_parallel_threads=1)
        job = backend.run([heavy_circuit() for _ in range(3)], shots=5, max_circuits_per_task=1)
        wait_until(lambda: job.status() is JobStatus.RUNNING, 30, "the job to run")
        provider.executor().shutdown(wait=False)
        assert job.status() is JobStatus.CANCELLED
        with pytest.raises(JobCancelledError):
            job.result(timeout=5)
    finally:
        provider.close()
    wait_until(lambda: not cluster.scheduler_keys(job.job_id()), 30, "the scheduler to forget the tasks")


def test_killed_worker_task_is_retried_on_the_other_worker(
    dask_provider: Provider, cluster: DaskCluster, hook_recorder: HookRecorder
) -> None:
    backend = dask_provider.get_backend("aer", max_parallel_threads=1)
    job = backend.run(heavy_circuit(), shots=5)
    wait_until(lambda: job.status() is JobStatus.RUNNING, 30, "the job to run")
    victim = cluster.worker_running(job.job_id())
    addresses = cluster.addresses()
    cluster.kill_worker(victim)
    result = job.result(timeout=90)
    assert job.status() is JobStatus.DONE
    survivor = next(a for n, a in addresses.items() if n != victim)
    assert workers_of(result) == [survivor]
    assert "ERROR" not in [new for _, new in hook_recorder.transitions(job.job_id())]


def test_task_whose_workers_all_die_ends_in_error(dask_provider: Provider, cluster: DaskCluster) -> None:
    backend = dask_provider.get_backend("aer", max_parallel_threads=1)
    job = backend.run(heavy_circuit(), shots=5)
    wait_until(lambda: job.status() is JobStatus.RUNNING, 30, "the job to run")
    first = cluster.worker_running(job.job_id())
    cluster.kill_worker(first)
    wait_until(lambda: first not in cluster.addresses(), 30, "the scheduler to notice the dead worker")
    second = cluster.worker_running(job.job_id())
    assert second != first
    cluster.kill_worker(second)
    job.wait_for_final_state(timeout=60, wait=0.1)
    assert job.status() is JobStatus.ERROR
    assert job.error_message is not None and "could not finish on the Dask cluster" in job.error_message
    assert "died" in job.error_message
    with pytest.raises(JobFailedError):
        job.result()


def test_configured_by_file_and_environment(
    cluster: DaskCluster, qdispatch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (qdispatch_home / "config.toml").write_text(
        f'executor = "dask"\n\n[executors.dask]\naddress = "{cluster.address}"\nconnect_timeout = 20\n'
    )
    with Provider() as provider:
        executor = provider.executor()
        assert isinstance(executor, DaskExecutor)
        assert (executor.address, executor.connect_timeout) == (cluster.address, 20.0)
        assert provider.get_backend("aer").run(bell(), shots=10).result(timeout=60).success
    (qdispatch_home / "config.toml").write_text("")
    monkeypatch.setenv("QDISPATCH_EXECUTOR", "dask")
    monkeypatch.setenv("QDISPATCH_EXECUTORS__DASK__ADDRESS", cluster.address)
    with Provider() as provider:
        executor = provider.executor()
        assert isinstance(executor, DaskExecutor) and executor.address == cluster.address
        assert provider.get_backend("aer").run(bell(), shots=10).result(timeout=60).success
