"""Pytest fixtures for qdispatch and its plugins; opt in with ``pytest_plugins = ["qdispatch.testing"]``.

Fixtures:

* ``qdispatch_home``: an isolated configuration file and data directory for the
  test (environment variables point there); returns the directory.
* ``provider``: a ``Provider`` on the isolated home (thread executor, sqlite
  store), closed after the test.
* ``hook_recorder``: a :class:`HookRecorder` registered on the shared plugin
  manager for the test's duration.

Circuits with known outcomes: :func:`seed_circuit`, :func:`bell`, :func:`x_circuit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from qiskit import QuantumCircuit

from qdispatch.hookspecs import hookimpl
from qdispatch.plugins import PluginManager, get_plugin_manager, reset_plugin_manager
from qdispatch.provider import Provider

ISOLATED_VARIABLES = ("QDISPATCH_EXECUTOR", "QDISPATCH_STORE", "QDISPATCH_DISABLED_PLUGINS",
                      "QDISPATCH_DISABLE_PLUGIN_AUTOLOAD", "QDISPATCH_AUTOSAVE", "QDISPATCH_MAX_CIRCUITS_PER_TASK")


@attrs.define
class HookCall:
    """One lifecycle hook call: its name and its arguments."""

    name: str
    kwargs: dict[str, Any]


class HookRecorder:
    """A plugin that records every lifecycle hook call it receives, in order."""

    def __init__(self) -> None:
        self.calls: list[HookCall] = []

    def names(self, job_id: str | None = None) -> list[str]:
        """Return the names of the recorded calls (for one job, if given)."""
        return [c.name for c in self.calls if job_id is None or c.kwargs["job"].job_id() == job_id]

    def transitions(self, job_id: str | None = None) -> list[tuple[str, str]]:
        """Return ``(old, new)`` status names of the recorded status changes."""
        return [
            (c.kwargs["old"].name, c.kwargs["new"].name)
            for c in self.calls
            if c.name == "job_status_changed" and (job_id is None or c.kwargs["job"].job_id() == job_id)
        ]

    def _record(self, name: str, **kwargs: Any) -> None:
        self.calls.append(HookCall(name, kwargs))

    @hookimpl
    def job_created(self, job: Any) -> None:
        """Record ``job_created``."""
        self._record("job_created", job=job)

    @hookimpl
    def job_submitted(self, job: Any) -> None:
        """Record ``job_submitted``."""
        self._record("job_submitted", job=job)

    @hookimpl
    def job_status_changed(self, job: Any, old: Any, new: Any) -> None:
        """Record ``job_status_changed``."""
        self._record("job_status_changed", job=job, old=old, new=new)

    @hookimpl
    def job_progress(self, job: Any, progress: Any) -> None:
        """Record ``job_progress``."""
        self._record("job_progress", job=job, progress=progress)

    @hookimpl
    def job_finished(self, job: Any) -> None:
        """Record ``job_finished``."""
        self._record("job_finished", job=job)

    @hookimpl
    def job_persisted(self, job: Any, location: str) -> None:
        """Record ``job_persisted``."""
        self._record("job_persisted", job=job, location=location)

    @hookimpl
    def job_restored(self, job: Any) -> None:
        """Record ``job_restored``."""
        self._record("job_restored", job=job)


@pytest.fixture
def qdispatch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point qdispatch's configuration and data at a fresh directory for one test."""
    home = tmp_path / "qdispatch-home"
    home.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("QDISPATCH_CONFIG", str(home / "config.toml"))
    for name in ISOLATED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    reset_plugin_manager()
    yield home
    reset_plugin_manager()


@pytest.fixture
def provider(qdispatch_home: Path) -> Iterator[Provider]:
    """A provider with the default executor and store, on the isolated home."""
    with Provider() as made:
        yield made


@pytest.fixture
def plugin_manager(qdispatch_home: Path) -> PluginManager:
    """The shared plugin manager, freshly loaded for this test."""
    return get_plugin_manager()


@pytest.fixture
def hook_recorder(plugin_manager: PluginManager) -> Iterator[HookRecorder]:
    """Record lifecycle hook calls on the shared plugin manager during the test."""
    recorder = HookRecorder()
    plugin_manager.register(recorder, name="hook-recorder")
    try:
        yield recorder
    finally:
        plugin_manager.unregister(name="hook-recorder")



def seed_circuit() -> QuantumCircuit:
    """The seed example: one qubit, rx(3.14), measure_all (gives '1' nearly always)."""
    qc = QuantumCircuit(1)
    qc.rx(3.14, 0)
    qc.measure_all()
    return qc


def bell() -> QuantumCircuit:
    """A Bell pair, measured."""
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    return qc


def x_circuit(n: int, ones: int) -> QuantumCircuit:
    """``n`` qubits, X on the first ``ones`` of them, measured: a known bitstring."""
    qc = QuantumCircuit(n)
    for q in range(ones):
        qc.x(q)
    qc.measure_all()
    return qc
