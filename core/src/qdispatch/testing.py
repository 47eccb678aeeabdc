"""Pytest fixtures for qdispatch and its plugins; opt in with ``pytest_plugins = ["qdispatch.testing"]``.

Fixtures:

* ``qdispatch_home``: an isolated configuration file and data directory for the
  test (environment variables point there); returns the directory.
* ``provider``: a ``Provider`` on the isolated home (thread executor, sqlite
  store), closed after the test.
* ``hook_recorder``: a :class:`HookRecorder` registered on the shared plugin
  manager for the test's duration.

Circuits with known outcomes: :func:`seed_circuit`, :func:`bell`, :func:`x_circuit`.

Helpers for tests of plugins and of the core:

* :func:`wait_for`: poll a condition until it holds, failing the test after a
  timeout (instead of a hand-written deadline loop).
* :func:`plugin_registered`: register a plugin object for a ``with`` block,
  unregistered on the way out even if the block raises.
* :class:`RegisteringPlugin` and :func:`backend_registered`: a plugin that
  offers the backends, executors and stores it is given.
* :class:`RaisingPlugin`: a plugin whose lifecycle hooks raise.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from qiskit import QuantumCircuit

from qdispatch.hookspecs import hookimpl
from qdispatch.plugins import PluginManager, get_plugin_manager, reset_plugin_manager
from qdispatch.provider import Provider

T = TypeVar("T")
P = TypeVar("P")

LIFECYCLE_HOOKS = (
    "job_created",
    "job_submitted",
    "job_status_changed",
    "job_progress",
    "job_finished",
    "job_persisted",
    "job_restored",
)
"""The hooks called for every job (as opposed to the ``register_*`` hooks)."""

ISOLATED_VARIABLES = (
    "QDISPATCH_EXECUTOR",
    "QDISPATCH_STORE",
    "QDISPATCH_DISABLED_PLUGINS",
    "QDISPATCH_DISABLE_PLUGIN_AUTOLOAD",
    "QDISPATCH_AUTOSAVE",
    "QDISPATCH_MAX_CIRCUITS_PER_TASK",
)


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
    (home / "config.toml").touch()
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
    with plugin_registered(plugin_manager, HookRecorder(), "hook-recorder") as recorder:
        yield recorder


def wait_for(predicate: Callable[[], T], timeout: float, message: str, *, interval: float = 0.02) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns a true value, and return that value.

    :param predicate: the condition, called with no arguments.
    :param timeout: seconds to wait before failing.
    :param message: what is awaited, for the failure: "the job to start".
    :raises AssertionError: ``timed out after {timeout} s waiting for {message}``.
    """
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(interval)
    return value


@contextlib.contextmanager
def plugin_registered(plugin_manager: PluginManager, plugin: P, name: str) -> Iterator[P]:
    """Register ``plugin`` as ``name`` for the ``with`` block and yield it; unregister it on the way out.

    :param plugin_manager: usually the ``plugin_manager`` fixture (the shared one).
    :param plugin: an object (or module) with :data:`qdispatch.hookimpl` methods.
    :param name: the plugin's name, as a warning about it would show it.
    """
    plugin_manager.register(plugin, name=name)
    try:
        yield plugin
    finally:
        plugin_manager.unregister(name=name)


Factories = Mapping[str, Callable[..., Any]]


class RegisteringPlugin:
    """A plugin offering the factories it is given, by name.

    ``RegisteringPlugin(backends={"picky": Picky}, executors={"remote": RemoteExecutor})``
    registers ``Picky`` as backend ``picky`` and ``RemoteExecutor`` as executor
    ``remote``; each factory is called as the core would call it (``factory(**options)``).
    """

    def __init__(
        self,
        *,
        backends: Factories | None = None,
        executors: Factories | None = None,
        stores: Factories | None = None,
    ) -> None:
        self.backends = dict(backends or {})
        self.executors = dict(executors or {})
        self.stores = dict(stores or {})

    @hookimpl
    def register_backends(self, register: Callable[[str, Callable[..., Any]], None]) -> None:
        """Register the backends."""
        for name, factory in self.backends.items():
            register(name, factory)

    @hookimpl
    def register_executors(self, register: Callable[[str, Callable[..., Any]], None]) -> None:
        """Register the executors."""
        for name, factory in self.executors.items():
            register(name, factory)

    @hookimpl
    def register_stores(self, register: Callable[[str, Callable[..., Any]], None]) -> None:
        """Register the stores."""
        for name, factory in self.stores.items():
            register(name, factory)


def backend_registered(
    plugin_manager: PluginManager, name: str, factory: Callable[..., Any]
) -> contextlib.AbstractContextManager[RegisteringPlugin]:
    """Offer ``factory`` as backend ``name`` for the ``with`` block, through a plugin also named ``name``."""
    return plugin_registered(plugin_manager, RegisteringPlugin(backends={name: factory}), name)


class RaisingPlugin:
    """A plugin whose lifecycle hooks raise ``RuntimeError("boom in <hook>")``.

    :param hooks: the hooks that raise (default: every one in :data:`LIFECYCLE_HOOKS`);
        the others do nothing.
    """

    def __init__(self, hooks: Iterable[str] = LIFECYCLE_HOOKS) -> None:
        self.hooks = frozenset(hooks)
        unknown = self.hooks - set(LIFECYCLE_HOOKS)
        if unknown:
            raise ValueError(f"not lifecycle hooks: {', '.join(sorted(unknown))}")

    def _raise(self, hook: str) -> None:
        if hook in self.hooks:
            raise RuntimeError(f"boom in {hook}")

    @hookimpl
    def job_created(self, job: Any) -> None:
        """Raise if ``job_created`` is one of :attr:`hooks`."""
        self._raise("job_created")

    @hookimpl
    def job_submitted(self, job: Any) -> None:
        """Raise if ``job_submitted`` is one of :attr:`hooks`."""
        self._raise("job_submitted")

    @hookimpl
    def job_status_changed(self, job: Any, old: Any, new: Any) -> None:
        """Raise if ``job_status_changed`` is one of :attr:`hooks`."""
        self._raise("job_status_changed")

    @hookimpl
    def job_progress(self, job: Any, progress: Any) -> None:
        """Raise if ``job_progress`` is one of :attr:`hooks`."""
        self._raise("job_progress")

    @hookimpl
    def job_finished(self, job: Any) -> None:
        """Raise if ``job_finished`` is one of :attr:`hooks`."""
        self._raise("job_finished")

    @hookimpl
    def job_persisted(self, job: Any, location: str) -> None:
        """Raise if ``job_persisted`` is one of :attr:`hooks`."""
        self._raise("job_persisted")

    @hookimpl
    def job_restored(self, job: Any) -> None:
        """Raise if ``job_restored`` is one of :attr:`hooks`."""
        self._raise("job_restored")


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
