"""Every bundled distribution has a documentation page, and every option of what it registers is on it.

The distributions are read from the repository, not from a list kept here: the
core (its built-ins are documented in ``docs/configuration.md``) and every
folder under ``plugins/``, whose page is ``docs/plugins/<name>.md`` for
``plugins/qdispatch-<name>/``. A new plugin without a page, or a new option
left out of its page, fails this module.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from qdispatch import make_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CORE_PAGE = DOCS / "configuration.md"
PREFIX = "qdispatch-"


def plugin_folders() -> list[Path]:
    """Return every folder under ``plugins/``."""
    return sorted(p for p in (ROOT / "plugins").iterdir() if p.is_dir() and not p.name.startswith("."))


def page_of(distribution: Path) -> Path:
    """Return the page documenting ``distribution`` (``core/`` or ``plugins/qdispatch-<name>/``)."""
    if distribution == ROOT / "core":
        return CORE_PAGE
    return DOCS / "plugins" / f"{distribution.name.removeprefix(PREFIX)}.md"


def entry_points(distribution: Path) -> list[str]:
    """Return the names ``distribution`` declares in the ``qdispatch`` entry-point group."""
    project = tomllib.loads((distribution / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return sorted(project.get("entry-points", {}).get("qdispatch", {}))


def pages() -> dict[str, Path]:
    """Return ``{entry-point name: page}`` for every bundled distribution."""
    return {name: page_of(d) for d in [ROOT / "core", *plugin_folders()] for name in entry_points(d)}


def options() -> list[tuple[str, str, str, str]]:
    """Return (plugin, kind, name, option) for every factory option of every bundled plugin."""
    bundled = pages()
    pm = make_plugin_manager()
    found = []
    for kind, entries in pm.catalogue().items():
        for name, registration in entries.items():
            if registration.plugin in bundled:
                for option in registration.parameters() or {}:
                    found.append((registration.plugin, kind, name, option))
    return found


@pytest.mark.parametrize("folder", plugin_folders(), ids=lambda p: p.name)
def test_every_plugin_folder_has_the_plugin_shape_and_a_page(folder: Path) -> None:
    assert folder.name.startswith(PREFIX), f"plugins/{folder.name}: a plugin folder is named {PREFIX}<name>"
    assert (folder / "pyproject.toml").is_file(), f"plugins/{folder.name} has no pyproject.toml"
    assert entry_points(folder), f"plugins/{folder.name} declares no entry point in the 'qdispatch' group"
    module = folder.name.removeprefix(PREFIX).replace("-", "_")
    for part in ("README.md", f"src/qdispatch_{module}/hooks.py", "tests"):
        assert (folder / part).exists(), f"plugins/{folder.name} lacks {part} (one shape for every plugin)"
    page = page_of(folder)
    assert page.is_file(), f"plugins/{folder.name} has no documentation page {page.relative_to(ROOT)}"


def test_every_bundled_plugin_is_installed() -> None:
    """Otherwise its options would silently go unchecked."""
    pm = make_plugin_manager()
    missing = sorted(name for name in pages() if not pm.has_plugin(name))
    assert not missing, f"not installed (or failed to load), so not checked: {', '.join(missing)}"


@pytest.mark.parametrize(("plugin", "kind", "name", "option"), options())
def test_option_is_documented(plugin: str, kind: str, name: str, option: str) -> None:
    page = pages()[plugin]
    assert page.is_file(), f"{kind} {name!r} of plugin {plugin!r}: no page {page.relative_to(ROOT)}"
    text = page.read_text(encoding="utf-8")
    assert f"`{option}`" in text, f"{kind} {name!r}: option {option!r} is not in {page.relative_to(ROOT)}"
