"""Third-party plugins that misbehave, really pip-installed: a usurper of built-in names, one that exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qdispatch import PluginNotFoundError, Provider
from qdispatch.plugins import get_plugin_manager, make_plugin_manager


def test_built_in_names_stay_with_the_built_ins(hostile: Path) -> None:
    with pytest.warns(RuntimeWarning) as caught:
        pm = make_plugin_manager()
        catalogue = pm.catalogue()
    assert catalogue["store"]["sqlite"].plugin == "sqlite"
    assert catalogue["backend"]["aer"].plugin == "aer"
    messages = [str(w.message) for w in caught]
    assert any(
        "store 'sqlite' of plugin 'aaa-usurper' ignored: plugin 'sqlite' (a built-in)" in m for m in messages
    )
    with Provider(plugin_manager=pm) as provider:
        provider.store.list()  # the real sqlite store: the usurper's factory would raise


def test_qdispatch_plugins_reports_the_clash_and_the_exit(hostile: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qdispatch.cli", "plugins", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = {row["plugin"]: row for row in json.loads(done.stdout)}
    assert "ignored: plugin 'sqlite' (a built-in)" in rows["aaa-usurper"]["status"]
    assert "ignored: plugin 'aer' (a built-in)" in rows["aaa-usurper"]["status"]
    assert rows["exiter"]["status"].startswith("FAILED: SystemExit")
    assert rows["sqlite"]["status"] == "ok"


def test_a_plugin_calling_sys_exit_at_import_ends_nothing(hostile: Path) -> None:
    with pytest.warns(RuntimeWarning, match="plugin 'exiter' failed to load"):
        names = get_plugin_manager().names("backend")
    assert "aer" in names
    done = subprocess.run(
        [sys.executable, "-m", "qdispatch.cli", "backends"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "aer" in done.stdout and "warning: qdispatch plugin 'exiter' failed to load" in done.stderr


def test_an_unknown_name_mentions_the_disabled_plugins(qdispatch_home: Path) -> None:
    pm = make_plugin_manager(disabled=["aer"])
    with pytest.raises(PluginNotFoundError, match="disabled plugins, which may offer it: aer"):
        pm.registration("backend", "aer_noisy")
    assert any(info.name == "aer" and info.disabled for info in pm.plugin_infos())


def test_a_typo_in_a_configured_plugin_name_is_named(qdispatch_home: Path) -> None:
    (qdispatch_home / "config.toml").write_text("[executors.thred]\nmax_workers = 2\n")
    with pytest.warns(RuntimeWarning, match="no executor named 'thred' is installed .did you mean 'thread'"):
        Provider().close()
