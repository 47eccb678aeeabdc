"""Plugins: a pip-installed third-party distribution is found and used, can be disabled, and a
broken one leaves the rest working."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qdispatch import PluginNotFoundError, Provider, make_plugin_manager
from qdispatch.testing import RegisteringPlugin, x_circuit

BUILT_INS = {"thread", "process", "file", "sqlite", "aer"}


def qdispatch_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qdispatch.cli", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )


def test_third_party_backend_and_executor_are_found_and_used(throwaway_plugin: Path) -> None:
    with pytest.warns(RuntimeWarning, match="'broken' failed to load"):
        provider = Provider(executor="inline", executor_options={"label": "mine"})
    with provider:
        assert "throwaway" in provider.backends() and "aer" in provider.backends()
        assert "inline" in provider.executors()
        backend = provider.get_backend("throwaway")
        job = backend.run(x_circuit(2, 2), shots=30)
        assert job.result().get_counts() == {"11": 30}
        executor = provider.executor()
        assert type(executor).__module__ == "qd_throwaway.hooks"
        assert executor.ran == 1 and executor.label == "mine"  # type: ignore[attr-defined]


def test_built_in_plugins_come_from_the_core_entry_points() -> None:
    pm = make_plugin_manager()
    infos = {info.name: info for info in pm.plugin_infos()}
    assert set(infos) >= BUILT_INS
    for name in ("thread", "process", "file", "sqlite"):
        assert infos[name].distribution == "qdispatch"
    assert infos["aer"].distribution == "qdispatch-aer"
    assert infos["thread"].registers == {"executors": ["thread"]}


def test_plugins_command_shows_the_plugin_and_the_failure(throwaway_plugin: Path) -> None:
    completed = qdispatch_cli("plugins", "--json")
    assert completed.returncode == 0, completed.stderr
    rows = {row["plugin"]: row for row in json.loads(completed.stdout)}
    assert rows["throwaway"]["distribution"] == "qdispatch-throwaway"
    assert rows["throwaway"]["version"] == "1.2.3"
    assert "throwaway" in rows["throwaway"]["registers"] and "inline" in rows["throwaway"]["registers"]
    assert rows["broken"]["status"].startswith("FAILED")
    assert "not installed" in rows["broken"]["status"]
    assert rows["aer"]["status"] == "ok"


def test_disabled_by_environment_is_never_imported(
    throwaway_plugin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QDISPATCH_DISABLED_PLUGINS", "throwaway,broken,future")
    probe = (
        "import sys, warnings; warnings.simplefilter('error');"
        "from qdispatch import Provider; p = Provider();"
        "print(sorted(p.backends()), 'qd_throwaway.hooks' in sys.modules, 'qd_broken.hooks' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.strip() == "['aer', 'aer_noisy'] False False" or out.strip().endswith("False False")
    assert "throwaway" not in out.split("]")[0]


def test_disabled_by_configuration_file(throwaway_plugin: Path, qdispatch_home: Path) -> None:
    (qdispatch_home / "config.toml").write_text('disabled_plugins = ["throwaway", "broken", "future"]\n')
    completed = qdispatch_cli("backends", "--json")
    assert completed.returncode == 0, completed.stderr
    names = [row["backend"] for row in json.loads(completed.stdout)]
    assert "throwaway" not in names and "aer" in names
    assert "failed to load" not in completed.stderr


def test_autoload_can_be_switched_off(throwaway_plugin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDISPATCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    pm = make_plugin_manager()
    assert pm.names("backend") == [] and pm.names("executor") == []
    with pytest.raises(PluginNotFoundError, match="none installed"):
        pm.registration("backend", "aer")


def test_unknown_names_list_the_available_ones() -> None:
    with pytest.raises(
        PluginNotFoundError, match=r"unknown executor 'nope'; available: (.*, )?process, (.*, )?thread"
    ):
        Provider(executor="nope")
    with pytest.raises(PluginNotFoundError, match=r"unknown store 'nope'; available: .*file.*sqlite"):
        Provider(store="nope")
    with (
        Provider() as provider,
        pytest.raises(PluginNotFoundError, match=r"unknown backend 'nope'; available: (.*, )?aer, aer_noisy"),
    ):
        provider.get_backend("nope")


def test_a_name_registered_twice_keeps_the_first_and_warns() -> None:
    pm = make_plugin_manager()
    pm.register(RegisteringPlugin(executors={"thread": dict}), name="impostor")
    with pytest.warns(RuntimeWarning, match="'thread' of plugin 'impostor' ignored"):
        assert pm.registration("executor", "thread").plugin == "thread"


def test_a_plugin_for_an_unknown_hook_is_refused_alone(throwaway_plugin: Path) -> None:
    with pytest.warns(RuntimeWarning, match="'future' failed to load: .*register_quantum_teleporters"):
        pm = make_plugin_manager()
    assert not pm.has_plugin("future") and "future" in pm.failures
    assert "throwaway" in pm.names("backend") and "aer" in pm.names("backend")
