"""Every code sample in ``docs/`` runs, so the documentation cannot drift from the code.

What runs, page by page, in order:

* ```` ```python ```` blocks, in one namespace per page (a later block sees
  what an earlier one defined), in a scratch directory holding a copy of
  ``examples/``, with the test's isolated qdispatch home;
* the ``$ qdispatch ...`` lines of ```` ```console ```` blocks, through
  ``qdispatch.cli.main`` (``NAME=value`` prefixes set the environment); the
  command must succeed, unless the sample shows an ``error:`` line after it;
  other shell lines (``pip install ...``) are shown, not run;
* ```` ```toml ```` blocks are parsed; those that are not packaging metadata
  (``[project]``, ``[build-system]``, ``[tool.*]``) must be valid qdispatch
  configuration.

A python block preceded by ``<!-- docs-test: pytest -->`` is a test module:
it is written to a file and run with pytest (and ``-p qdispatch.testing``).
A block that truly needs an external service is preceded by
``<!-- docs-test: skip REASON -->``; the reason is required.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import chdir, redirect_stderr, redirect_stdout
from pathlib import Path

import attrs
import pytest

from qdispatch import cli
from qdispatch.config import settings_from_mapping
from qdispatch.plugins import reset_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<what>\w+)\s*(?P<arg>.*?)\s*-->\s*$")
PACKAGING = re.compile(r"^\[(project|build-system|tool)[.\]]", re.M)


@attrs.frozen
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int
    lang: str
    code: str
    marker: str | None = None
    marker_arg: str = ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Return the fenced code blocks of ``page`` with the marker just before each, if any."""
    found = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        body = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            body.append(lines[end][len(indent) :] if lines[end].startswith(indent) else lines[end].lstrip())
            end += 1
        previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = MARKER.match(previous)
        found.append(
            Block(
                page,
                index + 1,
                opening["lang"].lower(),
                "\n".join(body) + "\n",
                marker["what"] if marker else None,
                marker["arg"] if marker else "",
            )
        )
        index = end + 1
    return found


def run_console(block: Block, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run the ``$ qdispatch`` lines of a console block; return how many ran."""
    ran = 0
    lines = block.code.splitlines()
    for number, line in enumerate(lines):
        if not line.startswith("$ "):
            continue
        words = shlex.split(line[2:], comments=True)
        env = {}
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        if not words or words[0] != "qdispatch":
            continue
        shown = []
        for following in lines[number + 1 :]:
            if following.startswith("$ "):
                break
            shown.append(following)
        expect_error = any(s.startswith("error:") for s in shown)
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            reset_plugin_manager()
            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                try:
                    code = cli.main(words[1:])
                except SystemExit as stop:  # --help and argument errors exit from argparse
                    code = stop.code if isinstance(stop.code, int) else 1
            reset_plugin_manager()
        ok = code != 0 if expect_error else code == 0
        assert ok, f"{block.where}: `{line[2:]}` exited {code}\n{out.getvalue()}\n{err.getvalue()}"
        ran += 1
    return ran


def run_pytest(block: Block, scratch: Path) -> None:
    """Run a test-module sample with pytest in a subprocess."""
    module = scratch / f"test_docs_{block.line}.py"
    module.write_text(block.code)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "qdispatch.testing",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(scratch),
            str(module),
        ],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert completed.returncode == 0, (
        f"{block.where}: the sample's tests failed\n{completed.stdout}\n{completed.stderr}"
    )
    assert re.search(r"\b\d+ passed\b", completed.stdout) and "skipped" not in completed.stdout


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    """Undo what a sample sets in ``os.environ`` (a token, say), so later tests never see it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_code_samples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    shutil.copytree(ROOT / "examples", scratch / "examples")
    namespace: dict[str, object] = {"__name__": "__docs__"}
    with chdir(scratch):
        for block in blocks(page):
            if block.marker == "skip":
                assert block.marker_arg, (
                    f"{block.where}: say why the sample is skipped: <!-- docs-test: skip REASON -->"
                )
                continue
            assert block.marker in (None, "pytest"), f"{block.where}: unknown marker {block.marker!r}"
            if block.lang in ("python", "py", "pycon"):
                if block.marker == "pytest":
                    run_pytest(block, scratch)
                    continue
                try:
                    exec(compile(block.code, block.where, "exec"), namespace)
                except Exception as exc:
                    raise AssertionError(
                        f"{block.where}: the sample raised {type(exc).__name__}: {exc}\n"
                        "(make it run offline; "
                        "only a sample that truly needs an external service may be marked "
                        "<!-- docs-test: skip REASON --> on the line before it: see docs/plugins.md)"
                    ) from exc
            elif block.lang in ("console", "shell-session"):
                run_console(block, monkeypatch)
            elif block.lang == "toml":
                data = tomllib.loads(block.code)
                if not PACKAGING.search(block.code):
                    settings_from_mapping(data, block.where)


def test_the_parser_sees_markers_and_indented_blocks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n<!-- docs-test: skip needs AQT's cloud -->\n```python\nraise SystemExit\n```\n\n"
        "1. a list\n\n    ```console\n    $ qdispatch backends\n    ```\n"
    )
    found = blocks(page)
    assert [(b.lang, b.marker, b.marker_arg, b.code) for b in found] == [
        ("python", "skip", "needs AQT's cloud", "raise SystemExit\n"),
        ("console", None, "", "$ qdispatch backends\n"),
    ]
