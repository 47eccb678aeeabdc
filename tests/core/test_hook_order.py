"""Lifecycle hooks are called through pluggy, by pluggy's rules, and a raising plugin is isolated.

Four plugins and a wrapper sit on every lifecycle hook: ``first`` (tryfirst),
``last`` (trylast), ``early`` and ``late`` (plain, registered in that order),
``raiser`` (plain, raises) and ``wrapper`` (``wrapper=True``). pluggy calls
wrappers around everything, then tryfirst, then plain implementations newest
first (LIFO), then trylast. The raising plugin warns naming itself; the others
are still called and the job is unharmed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import pluggy
import pytest

from qdispatch import Provider, hookimpl
from qdispatch.plugins import LIFECYCLE_HOOKS, PluginManager
from qdispatch.testing import seed_circuit

EXPECTED = [
    "wrapper before",
    "first",
    "late",
    "raiser",
    "early",
    "last",
    "wrapper after",
]
"""The order pluggy documents for the plugins registered below."""

Log = list[tuple[str, str, str]]


def _plugin(label: str, log: Log, *, raises: bool = False, wrapper: bool = False, **opts: Any) -> object:
    """A plugin implementing every lifecycle hook, logging ``(hook, label, job id)``."""
    namespace: dict[str, Callable[..., Any]] = {}
    for hook in sorted(LIFECYCLE_HOOKS):
        if wrapper:

            def wrap(self: object, job: Any, _hook: str = hook) -> Generator[None, None, None]:
                log.append((_hook, f"{label} before", job.job_id()))
                yield
                log.append((_hook, f"{label} after", job.job_id()))

            namespace[hook] = hookimpl(wrapper=True)(wrap)
        else:

            def plain(self: object, job: Any, _hook: str = hook) -> None:
                log.append((_hook, label, job.job_id()))
                if raises:
                    raise RuntimeError(f"{label} fails in {_hook}")

            namespace[hook] = hookimpl(**opts)(plain)
    return type(label, (), namespace)()


@pytest.fixture
def log(plugin_manager: PluginManager) -> Iterator[Log]:
    """Register the six plugins, in an order that makes every rule visible; unregister them after."""
    entries: Log = []
    plugins = [
        ("early", {}),
        ("last", {"trylast": True}),
        ("raiser", {"raises": True}),
        ("late", {}),
        ("first", {"tryfirst": True}),
        ("wrapper", {"wrapper": True}),
    ]
    for label, options in plugins:
        plugin_manager.register(_plugin(label, entries, **options), name=label)
    try:
        yield entries
    finally:
        for label, _ in plugins:
            plugin_manager.unregister(name=label)


def _order(log: Log, hook: str, job_id: str) -> list[str]:
    """The labels of the first call of ``hook`` for ``job_id``."""
    labels = [label for name, label, jid in log if name == hook and jid == job_id]
    return labels[: len(EXPECTED)]


def test_every_lifecycle_hook_keeps_pluggys_order_and_isolates_a_raising_plugin(
    provider: Provider, log: Log
) -> None:
    with pytest.warns(RuntimeWarning, match="plugin 'raiser' raised in job_"):
        job = provider.get_backend("aer").run(seed_circuit(), shots=20)
        counts = job.result().get_counts()
        job.persist()
        provider.restore(job.job_id())
    assert counts == {"1": 20}
    for hook in sorted(LIFECYCLE_HOOKS):
        assert _order(log, hook, job.job_id()) == EXPECTED, hook


def test_the_order_is_what_pluggy_itself_gives(log: Log) -> None:
    """The expected order above is pluggy's own, not one written to match qdispatch."""
    reference = pluggy.PluginManager("qdispatch")
    from qdispatch import hookspecs

    reference.add_hookspecs(hookspecs)
    calls: Log = []
    for label, options in [
        ("early", {}),
        ("last", {"trylast": True}),
        ("raiser", {}),
        ("late", {}),
        ("first", {"tryfirst": True}),
        ("wrapper", {"wrapper": True}),
    ]:
        reference.register(_plugin(label, calls, **options), name=label)

    class FakeJob:
        def job_id(self) -> str:
            return "reference"

    reference.hook.job_finished(job=FakeJob())
    assert [label for _, label, _ in calls] == EXPECTED


def test_hook_call_monitoring_sees_every_lifecycle_call(
    provider: Provider, plugin_manager: PluginManager
) -> None:
    seen: list[str] = []

    def before(hook_name: str, impls: Any, kwargs: Any) -> None:
        if hook_name in LIFECYCLE_HOOKS:
            seen.append(hook_name)

    def after(outcome: Any, hook_name: str, impls: Any, kwargs: Any) -> None:
        pass

    undo = plugin_manager.add_hookcall_monitoring(before, after)
    try:
        job = provider.get_backend("aer").run(seed_circuit(), shots=5)
        job.result()
        job.persist()
    finally:
        undo()
    assert seen[:2] == ["job_created", "job_submitted"]
    assert {"job_status_changed", "job_progress", "job_finished", "job_persisted"} <= set(seen)


def test_a_plugin_calling_sys_exit_in_a_hook_warns_and_the_job_finishes(
    provider: Provider, plugin_manager: PluginManager
) -> None:
    class Exiting:
        @hookimpl
        def job_status_changed(self, job: Any) -> None:
            raise SystemExit(3)

    plugin_manager.register(Exiting(), name="exiting")
    try:
        with pytest.warns(RuntimeWarning, match="'exiting' raised in job_status_changed: SystemExit"):
            job = provider.get_backend("aer").run(seed_circuit(), shots=5)
            assert job.result(timeout=30).get_counts() == {"1": 5}
    finally:
        plugin_manager.unregister(name="exiting")
