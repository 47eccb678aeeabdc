#!/usr/bin/env python3
"""Set up qdispatch's development environment and run it; needs only Python 3.11+ and pip.

    python3 dev.py example   # run the bundled example circuit through the defaults
    python3 dev.py test      # lint, check formatting, type-check and run the whole test suite

The first call creates ``.venv`` and installs the core, every plugin under
``plugins/`` (editable) and the ``dev`` dependency group; later calls reinstall
only when a ``pyproject.toml`` changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".qdispatch-installed"


def distributions() -> list[Path]:
    """Return the core and every plugin distribution directory."""
    return [ROOT / "core", *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))]


def fingerprint() -> str:
    """Hash every file that decides what gets installed."""
    digest = hashlib.sha256()
    for path in [ROOT / "pyproject.toml", *(d / "pyproject.toml" for d in distributions())]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run(*command: str | Path) -> None:
    """Run a command, stopping with its exit status if it fails."""
    completed = subprocess.run([str(c) for c in command], cwd=ROOT)
    if completed.returncode != 0:
        raise SystemExit(completed.returncode)


def ensure_environment() -> None:
    """Create the virtual environment and install everything, if not already done."""
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    wanted = fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing qdispatch, its plugins and the dev tools into .venv ...", flush=True)
    pip = [BIN / "python", "-m", "pip", "--disable-pip-version-check", "--quiet"]
    run(*pip, "install", "--upgrade", "pip>=25.1")
    editable = [arg for d in distributions() for arg in ("-e", str(d))]
    run(*pip, "install", *editable, "--group", "dev")
    STAMP.write_text(wanted)


def example() -> None:
    """Run the bundled Bell circuit through the default backend, executor and store."""
    run(BIN / "qdispatch", "run", ROOT / "examples" / "bell.qasm", "--shots", "1000")


def test(extra: list[str]) -> None:
    """Lint, check the formatting, type-check and run the whole test suite (as tox.ini's envs do)."""
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy")
    run(BIN / "python", "-m", "pytest", *extra)


def main() -> None:
    commands = {"example": lambda _: example(), "test": test, "setup": lambda _: None}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        raise SystemExit(__doc__)
    ensure_environment()
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
