"""The documentation site builds in strict mode: a broken link, a missing page or a warning fails."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert completed.returncode == 0, completed.stderr
    assert not re.search(r"^(WARNING|ERROR)\b", completed.stderr, re.M), completed.stderr
    for page in (
        "index.html",
        "concepts/index.html",
        "configuration/index.html",
        "cli/index.html",
        "plugins/index.html",
        "plugins/aer/index.html",
        "plugins/dask/index.html",
    ):
        assert (site / page).is_file(), page
    assert 'class="mermaid"' in (site / "concepts" / "index.html").read_text(encoding="utf-8")
