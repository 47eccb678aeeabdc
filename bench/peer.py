"""The peer's virtual environment (``bench/.venv-peer``) and a client for its half of a benchmark.

qiskit-aqt-provider pins Qiskit (2.0.1 requires ``qiskit<=2.4.1``), so it
cannot sit beside the current Qiskit that qdispatch uses; and it must never
become a dependency of qdispatch. It lives in its own venv, created on first
use, and its half of a benchmark runs there as a subprocess that answers one
JSON line per command.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from bench import common

VENV = Path(__file__).resolve().parent / ".venv-peer"
"""The peer's virtual environment (git-ignored)."""

PEER_PACKAGE = "qiskit-aqt-provider"


def venv_python() -> Path:
    """Return the peer venv's interpreter path."""
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv() -> Path:
    """Create ``bench/.venv-peer`` with qiskit-aqt-provider if it is missing; return its python.

    :raises RuntimeError: if the venv cannot be created or the package installed.
    """
    python = venv_python()
    check = [str(python), "-c", "import qiskit_aqt_provider.persistence"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    common.progress(f"creating {VENV.relative_to(common.REPO)} with {PEER_PACKAGE} (once)")
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [str(python), "-m", "pip", "install", "--quiet", PEER_PACKAGE],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(step[:4])} failed: {done.stderr.strip()[-500:]}")
    if subprocess.run(check, capture_output=True).returncode != 0:
        raise RuntimeError(f"{PEER_PACKAGE} does not import in {VENV.relative_to(common.REPO)}")
    return python


class PeerProcess:
    """The peer script running in the peer venv, driven one command at a time."""

    def __init__(self, script: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        self.process = subprocess.Popen(
            [str(ensure_venv()), str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(script.parent),
        )

    def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        """Send one command and return the peer's answer."""
        stdin: IO[str] | None = self.process.stdin
        stdout: IO[str] | None = self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the peer process ended during {op!r} (exit code {self.process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"peer: {answer['error']}")
        return answer

    def close(self) -> None:
        """Ask the peer to quit and wait for it."""
        if self.process.poll() is None:
            with contextlib.suppress(RuntimeError, OSError):
                self.call("quit")
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
