"""Run the ``qdispatch`` command as a user would: a subprocess, with the test's isolated home.

Every command runs at least once as a subprocess; variations of its options
also run in this process through ``qdispatch.cli.main``, which is quicker.
"""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import chdir, redirect_stderr, redirect_stdout
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.providers import JobStatus

from qdispatch import Provider, cli
from qdispatch.testing import bell, x_circuit

ROOT = Path(__file__).resolve().parents[2]
BELL_QASM = ROOT / "examples" / "bell.qasm"


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "COLUMNS")}
    env.update(extra)
    return env


@attrs.define
class Cli:
    """Runs ``qdispatch ARGS...`` in a working directory, as a subprocess (the ``qd`` fixture)."""

    cwd: Path
    bell: Path = BELL_QASM

    def __call__(
        self, *args: str | Path, expect: int | None = 0, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run the command with pipes for output; check the exit status is ``expect``."""
        completed = subprocess.run(
            [sys.executable, "-m", "qdispatch.cli", *map(str, args)],
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env=_environment(**env),
            timeout=180,
        )
        if expect is not None:
            assert completed.returncode == expect, (
                f"exit {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
            )
        return completed

    def tty(self, *args: str | Path, **env: str) -> tuple[int, str]:
        """Run the command on a pseudo-terminal (stdout and stderr); return (exit status, output)."""
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "qdispatch.cli", *map(str, args)],
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=terminal,
            cwd=self.cwd,
            env=_environment(COLUMNS="160", TERM="xterm-256color", **env),
        )
        os.close(terminal)
        chunks = []
        while True:
            ready, _, _ = select.select([controller], [], [], 180)
            if not ready:
                process.kill()
                raise AssertionError("qdispatch on a terminal printed nothing for 180 s")
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the terminal closed
                break
            if not data:
                break
            chunks.append(data)
        os.close(controller)
        return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")

    def main(self, *args: str | Path, expect: int = 0) -> tuple[str, str]:
        """Run the command in this process (quicker, for variations); return (stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err), chdir(self.cwd):
            code = cli.main([str(a) for a in args])
        assert code == expect, f"exit {code}\n{out.getvalue()}\n{err.getvalue()}"
        return out.getvalue(), err.getvalue()

    @staticmethod
    def errors(stderr: str) -> list[str]:
        """The lines of ``stderr`` that are not warnings (a plugin may warn while loading)."""
        return [line for line in stderr.splitlines() if line.strip() and not line.startswith("warning:")]


@pytest.fixture
def qd(tmp_path: Path) -> Cli:
    """The ``qdispatch`` command, run in ``tmp_path`` with the test's isolated home."""
    return Cli(tmp_path)


@attrs.frozen
class Stored:
    """Jobs put in the isolated store before a test runs commands on them."""

    done: str
    many: str
    queued: str
    counts: dict[str, int]
    many_counts: list[dict[str, int]]


def _circuits(backend: object) -> list[QuantumCircuit]:
    return transpile([x_circuit(2, 0), x_circuit(2, 1), x_circuit(2, 2), bell()], backend)  # type: ignore[arg-type]


@pytest.fixture
def stored(qdispatch_home: Path) -> Iterator[Stored]:
    """A finished one-circuit job, a finished four-circuit job and an unfinished (QUEUED) record."""
    with Provider() as provider:
        backend = provider.get_backend("aer", seed_simulator=7)
        one = backend.run(transpile(bell(), backend), shots=300, tags=["bell"], job_id="bell-job")
        many = backend.run(_circuits(backend), shots=200, tags=["many"], job_id="many-job")
        counts, many_counts = one.result().get_counts(), many.result().get_counts()
        one.persist()
        many.persist()
        record = many.to_record()
        provider.store.save(
            attrs.evolve(
                record,
                job_id="queued-job",
                status=JobStatus.QUEUED,
                result=None,
                finished_at=None,
                tags=("queued",),
                created_at=record.created_at + timedelta(seconds=1),
            )
        )
    yield Stored("bell-job", "many-job", "queued-job", counts, many_counts)
