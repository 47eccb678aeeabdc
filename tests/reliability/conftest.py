"""Fixtures for the reliability tests: the fault log, the throw-away ``faulty`` plugin, store snapshots.

Every test that injects a fault records it with the ``faults`` fixture: what
was done, how many times, and what came of it. When ``QDISPATCH_RELIABILITY_JSON``
names a file, the session writes the log there with each test's result;
``scripts/reliability_report.py`` turns it into ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from qdispatch.plugins import reset_plugin_manager

if TYPE_CHECKING:
    from qdispatch.records import JobRecord

REPORT_ENV = "QDISPATCH_RELIABILITY_JSON"
HERE = Path(__file__).parent
PLUGIN_SOURCE = HERE / "plugin_src" / "qdispatch_faulty.py"
HELPERS = HERE / "helpers"

_ENTRIES: list[dict[str, Any]] = []
_RESULTS: dict[str, str] = {}
_DURATIONS: dict[str, float] = {}
_REASONS: dict[str, str] = {}
_STARTED = time.time()


@attrs.define
class FaultLog:
    """Records the faults one test injected, for the generated report."""

    nodeid: str
    private_paths: dict[str, str]

    def record(self, area: str, fault: str, count: int, outcome: str) -> None:
        """Note that ``fault`` was injected ``count`` times in ``area`` with ``outcome``.

        Paths of this machine (temporary directories, the checkout, the home
        directory) are replaced by placeholders: the report is committed.
        """
        assert count >= 1, f"a fault recorded as injected {count} times was not injected"
        for path, placeholder in self.private_paths.items():
            fault, outcome = fault.replace(path, placeholder), outcome.replace(path, placeholder)
        _ENTRIES.append(
            {"test": self.nodeid, "area": area, "fault": fault, "count": count, "outcome": outcome}
        )


@pytest.fixture
def faults(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FaultLog:
    """The fault log for this test."""
    paths = {
        str(tmp_path_factory.getbasetemp()): "<tmp>",
        str(HERE.parents[1]): "<repo>",
        str(Path.home()): "<home>",
    }
    return FaultLog(request.node.nodeid, dict(sorted(paths.items(), key=lambda kv: -len(kv[0]))))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """Remember each reliability test's result (and why, for a known bug) and its duration."""
    report = yield
    if report.when == "call" or report.outcome != "passed":
        result = report.outcome
        if hasattr(report, "wasxfail"):
            result = "xfailed" if report.skipped else "xpassed"
            _REASONS[item.nodeid] = str(report.wasxfail)
        if report.when == "call" or _RESULTS.get(item.nodeid, "passed") == "passed":
            _RESULTS[item.nodeid] = result
        _DURATIONS[item.nodeid] = _DURATIONS.get(item.nodeid, 0.0) + report.duration
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the fault log when ``QDISPATCH_RELIABILITY_JSON`` asks for it."""
    target = os.environ.get(REPORT_ENV)
    if not target:
        return
    data = {
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "seconds": round(time.time() - _STARTED, 1),
        "entries": [{**entry, "result": _RESULTS.get(entry["test"], "not run")} for entry in _ENTRIES],
        "tests": {
            nodeid: {
                "result": result,
                "seconds": round(_DURATIONS.get(nodeid, 0.0), 2),
                **({"reason": _REASONS[nodeid]} if nodeid in _REASONS else {}),
            }
            for nodeid, result in sorted(_RESULTS.items())
        },
    }
    Path(target).write_text(json.dumps(data, indent=2), encoding="utf-8")


# -- the throw-away ``faulty`` plugin ----------------------------------------------------------


def install_faulty_plugin(site: Path) -> Path:
    """Install the ``faulty`` plugin into ``site`` by hand: the module and a ``.dist-info``."""
    site.mkdir(parents=True, exist_ok=True)
    shutil.copy(PLUGIN_SOURCE, site / PLUGIN_SOURCE.name)
    info = site / "qdispatch_faulty-0.0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qdispatch-faulty\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[qdispatch]\nfaulty = qdispatch_faulty\n")
    (info / "top_level.txt").write_text("qdispatch_faulty\n")
    return site


@pytest.fixture(scope="session")
def faulty_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the installed ``faulty`` plugin."""
    return install_faulty_plugin(tmp_path_factory.mktemp("faulty-site"))


@pytest.fixture
def faulty_plugin(faulty_site: Path, qdispatch_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the ``faulty`` plugin visible to this process and to the processes it starts."""
    monkeypatch.syspath_prepend(str(faulty_site))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(faulty_site), os.environ.get("PYTHONPATH")]))
    )
    reset_plugin_manager()
    yield faulty_site
    reset_plugin_manager()


# -- helpers shared by the tests (as a fixture: test modules cannot import this conftest) ----------


class Tools:
    """Small helpers the reliability tests share."""

    helpers = HELPERS

    @staticmethod
    def store_bytes(path: Path) -> dict[str, bytes]:
        """Return every file of a store: a directory's files, or a database and its WAL."""
        if path.is_dir():
            return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}
        files = [path, Path(f"{path}-wal")]
        return {p.name: p.read_bytes() for p in files if p.exists()}

    @staticmethod
    def helper(name: str, *args: object) -> list[str]:
        """Return the command running ``helpers/<name>`` with this interpreter."""
        return [sys.executable, str(HELPERS / name), *map(str, args)]

    @staticmethod
    def call_with_deadline(action: Callable[[], Any], seconds: float = 20.0, what: str = "it") -> Any:
        """Run ``action`` in a thread; fail (instead of hanging the suite) if it does not return in time."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = action()
            except BaseException as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(seconds)
        if thread.is_alive():
            pytest.fail(f"{what} still blocked after {seconds} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory outside pytest's private tree, so another user can be given parts of it."""
    path = Path(tempfile.mkdtemp(prefix="qdispatch-shared-"))
    os.chmod(path, 0o755)
    yield path
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o700)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def tools() -> type[Tools]:
    """The shared helpers."""
    return Tools


@pytest.fixture(scope="session")
def done_record(tmp_path_factory: pytest.TempPathFactory) -> JobRecord:
    """The record of a finished three-circuit ``aer`` job (made once, outside any test's home)."""
    from qdispatch import Provider, Settings, make_plugin_manager
    from qdispatch.testing import bell, seed_circuit, x_circuit

    store = tmp_path_factory.mktemp("template-store")
    with Provider(
        settings=Settings(),
        plugin_manager=make_plugin_manager(),
        store="file",
        store_options={"path": str(store)},
    ) as provider:
        job = provider.get_backend("aer").run(
            [bell(), seed_circuit(), x_circuit(3, 2)],
            shots=50,
            job_id="template-0",
            tags=["template"],
            seed_simulator=7,
        )
        job.result(timeout=60)
        return job.to_record()
