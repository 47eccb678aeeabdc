"""The helpers of ``qdispatch.testing``: waiting, registering plugins for a block, raising hooks."""

from __future__ import annotations

import pytest

from qdispatch import PluginManager, Provider
from qdispatch.testing import (
    LIFECYCLE_HOOKS,
    RaisingPlugin,
    RegisteringPlugin,
    backend_registered,
    plugin_registered,
    seed_circuit,
    wait_for,
)


def test_wait_for_returns_the_first_true_value() -> None:
    answers = iter([0, None, "ready"])
    assert wait_for(lambda: next(answers), 5, "the third answer", interval=0) == "ready"


def test_wait_for_fails_saying_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0.05 s waiting for the impossible"):
        wait_for(lambda: False, 0.05, "the impossible", interval=0.01)


def test_plugin_registered_unregisters_even_when_the_block_raises(plugin_manager: PluginManager) -> None:
    plugin = RegisteringPlugin(executors={"inline_probe": dict})
    with pytest.raises(RuntimeError), plugin_registered(plugin_manager, plugin, "probe") as registered:
        assert registered is plugin and plugin_manager.has_plugin("probe")
        assert "inline_probe" in plugin_manager.names("executor")
        raise RuntimeError("the block failed")
    assert not plugin_manager.has_plugin("probe")
    assert "inline_probe" not in plugin_manager.names("executor")


def test_backend_registered_offers_the_factory(plugin_manager: PluginManager) -> None:
    with backend_registered(plugin_manager, "aer_again", dict):
        assert "aer_again" in plugin_manager.names("backend")
    assert "aer_again" not in plugin_manager.names("backend")


def test_raising_plugin_raises_only_in_the_hooks_named() -> None:
    plugin = RaisingPlugin(hooks={"job_finished"})
    plugin.job_created(job=None)
    with pytest.raises(RuntimeError, match="boom in job_finished"):
        plugin.job_finished(job=None)
    with pytest.raises(ValueError, match="not lifecycle hooks: register_backends"):
        RaisingPlugin(hooks={"register_backends"})
    assert RaisingPlugin().hooks == set(LIFECYCLE_HOOKS)


def test_a_raising_plugin_is_reported_and_the_job_finishes(
    plugin_manager: PluginManager, provider: Provider
) -> None:
    with (
        plugin_registered(plugin_manager, RaisingPlugin(), "raising"),
        pytest.warns(RuntimeWarning, match="'raising'"),
    ):
        job = provider.get_backend("aer").run(seed_circuit(), shots=10)
        assert job.result().get_counts() == {"1": 10}
