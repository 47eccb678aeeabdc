"""The LocalCluster path: started on first use, closed on shutdown; workers without the backend plugin."""

from __future__ import annotations

from collections.abc import Callable

import psutil
import pytest
from qiskit.providers import JobStatus

from qdispatch import CircuitBatch, ExecutorError, JobFailedError, Provider, Task
from qdispatch.testing import bell, x_circuit
from qdispatch_dask.executor import DaskExecutor


def test_local_cluster_starts_on_first_use_and_closes_on_shutdown(
    live_children: Callable[[], set[int]],
) -> None:
    before = live_children()
    provider = Provider(executor="dask", executor_options={"n_workers": 2, "threads_per_worker": 1})
    try:
        executor = provider.executor()
        assert isinstance(executor, DaskExecutor)
        assert executor.scheduler_address is None  # nothing started yet
        backend = provider.get_backend("aer", max_parallel_threads=1)
        job = backend.run([x_circuit(3, i % 4) for i in range(8)], shots=10, max_circuits_per_task=2)
        result = job.result(timeout=120)
        assert job.status() is JobStatus.DONE
        assert [result.get_counts(i) for i in range(8)] == [
            {"0" * (3 - i % 4) + "1" * (i % 4): 10} for i in range(8)
        ]
        assert executor.scheduler_address is not None
        assert executor.scheduler_address.startswith("tcp://127.0.0.1:")
        workers = executor.client().scheduler_info(n_workers=-1)["workers"]
        assert len(workers) == 2
        assert all(info["nthreads"] == 1 for info in workers.values())
        started = live_children() - before
        assert len(started) >= 2  # the two worker processes (and their nannies)
    finally:
        provider.close()
    _, alive = psutil.wait_procs([psutil.Process(p) for p in started if psutil.pid_exists(p)], timeout=30)
    assert not alive, "the local cluster's processes must end on shutdown"
    with pytest.raises(ExecutorError, match="shut down"):
        executor.submit(
            Task(
                job_id="after-shutdown",
                index=0,
                circuits=CircuitBatch([bell()]),
                backend="aer",
                backend_options={},
                shots=10,
                run_options={},
            )
        )


def test_worker_without_the_backend_plugin_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with Provider(executor="dask", executor_options={"n_workers": 1}) as provider:
        backend = provider.get_backend("aer")  # the client has qdispatch-aer ...
        monkeypatch.setenv("QDISPATCH_DISABLED_PLUGINS", "aer")  # ... the workers started now do not load it
        job = backend.run(bell(), shots=10)
        job.wait_for_final_state(timeout=120, wait=0.1)
        assert job.status() is JobStatus.ERROR
        message = job.error_message or ""
        assert "failed on Dask worker tcp://127.0.0.1:" in message
        assert "PluginNotFoundError: unknown backend 'aer'" in message
        with pytest.raises(JobFailedError, match="unknown backend 'aer'"):
            job.result()
