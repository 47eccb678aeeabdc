"""A scheduler that is unreachable at submission, or lost after it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from qiskit.providers import JobStatus

from qdispatch import ExecutorError, Job, Provider
from qdispatch.testing import bell
from qdispatch_dask import DaskSchedulerError
from qdispatch_dask.testing import DaskCluster, free_port, heavy_circuit, wait_until


def test_unreachable_scheduler_at_submit_names_the_address() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    with Provider(executor="dask", executor_options={"address": address, "connect_timeout": 1}) as provider:
        backend = provider.get_backend("aer")
        started = time.monotonic()
        with pytest.raises(DaskSchedulerError) as caught:
            backend.run(bell(), shots=10)
    assert isinstance(caught.value, ExecutorError)
    assert caught.value.address == address
    assert address in str(caught.value)
    assert time.monotonic() - started < 30


def test_lost_scheduler_ends_the_job_in_error_and_restore_resubmits(
    fresh_cluster: Callable[..., DaskCluster],
) -> None:
    first = fresh_cluster(1)
    options = {"address": first.address, "connect_timeout": 2}
    with Provider(executor="dask", executor_options=options) as provider:
        backend = provider.get_backend("aer", max_parallel_threads=1)
        job = backend.run(heavy_circuit(), shots=5)
        wait_until(lambda: job.status() is JobStatus.RUNNING, 30, "the job to run")
        job.persist()  # as a program would before it loses its scheduler (or crashes)
        first.kill_scheduler()
        job.wait_for_final_state(timeout=30, wait=0.1)
        assert job.status() is JobStatus.ERROR
        assert job.error_message is not None
        assert "lost the connection to the Dask scheduler" in job.error_message
        assert first.address in job.error_message
        with pytest.raises(DaskSchedulerError, match=first.address):
            backend.run(bell(), shots=10)

    second = fresh_cluster(1)
    with (
        Provider(executor="dask", executor_options={"address": second.address}) as provider,
        pytest.warns(RuntimeWarning, match="submitted again"),
    ):
        restored = Job.restore(job.job_id(), provider=provider)
        assert restored.resubmitted
        assert restored.result(timeout=60).success
        assert restored.status() is JobStatus.DONE


def test_job_on_a_cluster_without_workers_ends_in_error_after_the_schedulers_timeout(
    fresh_cluster: Callable[..., DaskCluster],
) -> None:
    empty = fresh_cluster(0, {"DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT": "1s"})
    with Provider(executor="dask", executor_options={"address": empty.address}) as provider:
        job = provider.get_backend("aer").run(bell(), shots=10)
        assert job.status() is JobStatus.QUEUED
        job.wait_for_final_state(timeout=60, wait=0.1)
        assert job.status() is JobStatus.ERROR
        assert "found no worker on the Dask cluster" in (job.error_message or "")
        assert "without any running workers" in (job.error_message or "")
