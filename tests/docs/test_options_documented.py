"""Every option of the bundled executors, stores and backends is documented on its page."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from qdispatch import make_plugin_manager

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = {
    "thread": "configuration.md",
    "process": "configuration.md",
    "file": "configuration.md",
    "sqlite": "configuration.md",
    "aer": "plugins/aer.md",
    "example_vendor": "plugins/example-vendor.md",
}


def options() -> list[tuple[str, str, str, str]]:
    """Return (plugin, kind, name, option) for every factory option of the plugins above."""
    pm = make_plugin_manager()
    found = []
    for kind, entries in pm.catalogue().items():
        for name, registration in entries.items():
            if registration.plugin in PAGES:
                for option in inspect.signature(registration.factory).parameters:
                    found.append((registration.plugin, kind, name, option))
    return found


@pytest.mark.parametrize(("plugin", "kind", "name", "option"), options())
def test_option_is_documented(plugin: str, kind: str, name: str, option: str) -> None:
    page = DOCS / PAGES[plugin]
    assert f"`{option}`" in page.read_text(encoding="utf-8"), f"{kind} {name!r}: option {option!r} is not in {page.name}"


def test_every_bundled_plugin_is_covered() -> None:
    assert {plugin for plugin, *_ in options()} == set(PAGES)
