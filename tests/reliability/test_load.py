"""Load: 5,000 small jobs submitted at once through the thread and process executors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil
import pytest
from qiskit.providers import JobStatus

from qdispatch import Provider
from qdispatch.testing import x_circuit

JOBS = 5000
SHOTS = 8
WIDTH = 4
MIB = 1024 * 1024
MAX_GROWTH_MIB = 512
"""Memory the parent (plus its workers) may grow by while 5,000 jobs run; in practice far less."""


class PeakRss:
    """Samples the resident memory of this process and its children in a background thread."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.baseline = self.total()
        self.peak = self.baseline
        self.peak_parent = self.me.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def total(self) -> int:
        """Resident memory of this process and its live children, in bytes."""
        rss = self.me.memory_info().rss
        for child in self.me.children(recursive=True):
            try:
                rss += child.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return rss

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.total())
            self.peak_parent = max(self.peak_parent, self.me.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def expected(ones: int) -> dict[str, int]:
    """Counts of ``x_circuit(WIDTH, ones)``."""
    return {"0" * (WIDTH - ones) + "1" * ones: SHOTS}


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["thread", "process"])
def test_five_thousand_small_jobs(executor: str, tmp_path: Path, faults) -> None:
    circuits = [x_circuit(WIDTH, ones) for ones in range(WIDTH + 1)]
    with Provider(
        executor=executor,
        executor_options={"max_workers": 2},
        store="sqlite",
        store_options={"path": str(tmp_path / "jobs.sqlite")},
    ) as provider:
        # Threads share this process's cores: one Aer thread per simulation, as for any small circuits.
        # The process executor gives each worker its share of the cores by itself.
        backend = provider.get_backend("aer", **({"max_parallel_threads": 1} if executor == "thread" else {}))
        backend.run(circuits[0], shots=SHOTS).result(
            timeout=120
        )  # workers started: measure jobs, not start-up
        with PeakRss() as memory:
            began = time.monotonic()
            jobs = [backend.run(circuits[i % len(circuits)], shots=SHOTS) for i in range(JOBS)]
            submitted = time.monotonic() - began
            results = [job.result(timeout=300) for job in jobs]
            elapsed = time.monotonic() - began
        statuses = {job.status() for job in jobs}
    assert statuses == {JobStatus.DONE}
    for i, result in enumerate(results):
        assert result.get_counts() == expected(i % len(circuits)), f"job {i}"
    assert len({job.job_id() for job in jobs}) == JOBS
    growth = (memory.peak - memory.baseline) / MIB
    assert growth < MAX_GROWTH_MIB, f"memory grew by {growth:.0f} MiB"
    faults.record(
        "load",
        f"{JOBS} small jobs submitted at once through the {executor} executor (max_workers=2"
        + (", aer max_parallel_threads=1)" if executor == "thread" else ")"),
        JOBS,
        f"all DONE with correct counts in {elapsed:.1f} s (submitting took {submitted:.1f} s); "
        f"peak RSS {memory.peak / MIB:.0f} MiB"
        + (f" (parent {memory.peak_parent / MIB:.0f} MiB, plus 2 workers)" if executor == "process" else "")
        + f", {growth:.0f} MiB above the {memory.baseline / MIB:.0f} MiB before; bound {MAX_GROWTH_MIB} MiB",
    )
