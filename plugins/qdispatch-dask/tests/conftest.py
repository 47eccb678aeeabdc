"""Fixtures for the qdispatch-dask tests: real clusters, always stopped, nothing left running."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from qdispatch_dask.testing import DaskCluster


def is_resource_tracker(process: psutil.Process) -> bool:
    """Tell Python's multiprocessing resource tracker, which lives as long as this process, from the rest."""
    return any("multiprocessing.resource_tracker" in part for part in process.cmdline())


def own_children() -> set[int]:
    """Return the process ids of this test process's live descendants (but the resource tracker)."""
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and not is_resource_tracker(child):
                pids.add(child.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return pids


@pytest.fixture
def live_children() -> Callable[[], set[int]]:
    """Return a function listing the process ids of this test process's live descendants."""
    return own_children


@pytest.fixture(scope="module", autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """Fail the module if it leaves any child process running."""
    before = own_children()
    yield
    leftover = []
    for pid in own_children() - before:
        try:
            leftover.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(leftover, timeout=15)
    assert not alive, f"processes left running: {[p.pid for p in alive]}"


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """One scheduler and two workers for the module's tests."""
    cluster = DaskCluster(tmp_path_factory.mktemp("dask-cluster"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def cluster(shared_cluster: DaskCluster) -> DaskCluster:
    """The shared cluster with both workers connected (restarted if a test killed them)."""
    shared_cluster.wait_for_workers()
    return shared_cluster


@pytest.fixture
def fresh_cluster(tmp_path: Path) -> Iterator[Callable[..., DaskCluster]]:
    """Start private clusters (``fresh_cluster(n_workers)``) that a test may break; all stopped after."""
    made: list[DaskCluster] = []

    def start(n_workers: int = 1, dask_config: dict[str, str] | None = None) -> DaskCluster:
        workdir = tmp_path / f"cluster-{len(made)}"
        workdir.mkdir()
        cluster = DaskCluster(workdir, tuple(f"w{i}" for i in range(n_workers)), dask_config)
        made.append(cluster)
        return cluster.start()

    try:
        yield start
    finally:
        for cluster in made:
            cluster.stop()
