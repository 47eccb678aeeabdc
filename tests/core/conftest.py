"""Fixtures for the core tests: throw-away plugin distributions, really built and pip-installed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qdispatch.plugins import reset_plugin_manager

SOURCES = Path(__file__).parent / "plugin_sources"


def _install(site: Path, *distributions: str) -> Path:
    """pip-install the named distributions of :data:`SOURCES` into ``site``; return ``site``."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            str(site),
            *(str(SOURCES / name) for name in distributions),
        ],
        check=True,
    )
    return site


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory into which pip installed the throw-away and broken plugin distributions."""
    return _install(
        tmp_path_factory.mktemp("plugin-site"), "qdispatch-throwaway", "qdispatch-broken", "qdispatch-future"
    )


@pytest.fixture(scope="session")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory into which pip installed a plugin taking built-in names and one exiting at import."""
    return _install(tmp_path_factory.mktemp("hostile-plugins"), "qdispatch-usurper", "qdispatch-exiter")


def _activate(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    )
    reset_plugin_manager()


@pytest.fixture
def throwaway_plugin(
    plugin_site: Path, monkeypatch: pytest.MonkeyPatch, qdispatch_home: Path
) -> Iterator[Path]:
    """Make the pip-installed throw-away plugins visible to this process and its children."""
    _activate(plugin_site, monkeypatch)
    yield plugin_site
    _forget("qd_throwaway", "qd_broken", "qd_future")


@pytest.fixture
def hostile(hostile_site: Path, monkeypatch: pytest.MonkeyPatch, qdispatch_home: Path) -> Iterator[Path]:
    """Make the hostile plugins visible to this process and its children."""
    _activate(hostile_site, monkeypatch)
    yield hostile_site
    _forget("qd_usurper", "qd_exiter")


def _forget(*packages: str) -> None:
    for name in [m for m in sys.modules if m.startswith(packages)]:
        del sys.modules[name]
    reset_plugin_manager()
