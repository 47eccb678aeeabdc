"""Hardening of the process executor: workers never import from the cwd; absurd pool sizes refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qdispatch import ConfigurationError, Provider, Settings, make_plugin_manager
from qdispatch.executors.process import ProcessExecutor, max_workers_limit, worker_environment
from qdispatch.testing import bell

SHADOWS = ("random", "queue", "pickle", "struct")


def test_workers_do_not_import_modules_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults
) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    for name in SHADOWS:
        (work / f"{name}.py").write_text(
            f"import pathlib\npathlib.Path({str(tmp_path / name)!r} + '.imported').write_text('yes')\n"
            f"raise SystemExit('the {name}.py of the current directory was imported')\n"
        )
    monkeypatch.chdir(work)
    with Provider(
        settings=Settings(),
        plugin_manager=make_plugin_manager(),
        executor="process",
        executor_options={"max_workers": 1},
        store="file",
        store_options={"path": str(tmp_path / "store")},
    ) as provider:
        counts = (
            provider.get_backend("aer")
            .run(bell(), shots=20, seed_simulator=1)
            .result(timeout=120)
            .get_counts()
        )
    assert sum(counts.values()) == 20
    assert sorted(p.name for p in tmp_path.glob("*.imported")) == []
    faults.record(
        "executors",
        f"{', '.join(s + '.py' for s in SHADOWS)} in the working directory of a process pool",
        len(SHADOWS),
        "never imported by the workers; the job ran",
    )


def test_empty_pythonpath_entries_are_dropped_for_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["", "/opt/site", ""]))
    assert worker_environment(2)["PYTHONPATH"] == "/opt/site"
    monkeypatch.setenv("PYTHONPATH", os.pathsep)
    assert "PYTHONPATH" not in worker_environment(2)


@pytest.mark.parametrize("workers", [100_000, 10**9])
def test_absurd_max_workers_is_refused_naming_the_limit(workers: int, faults) -> None:
    with pytest.raises(
        ConfigurationError,
        match=f"max_workers. of executor .process. is {workers}, more than the limit of "
        f"{max_workers_limit()}",
    ):
        ProcessExecutor(max_workers=workers)
    faults.record(
        "executors",
        f"process executor max_workers = {workers}",
        1,
        "ConfigurationError naming the option and the limit; no thread or process started",
    )


def test_max_workers_at_the_limit_is_accepted() -> None:
    ProcessExecutor(max_workers=max_workers_limit()).shutdown()
