"""Hardening of the ``qdispatch`` command: hostile strings, signals, stores that cannot be written, odd input.

Every command runs as a real process (``python -m qdispatch.cli``) on the
test's isolated home; signals are real ``os.kill`` calls, the file-size limit
a real ``RLIMIT_FSIZE`` and the read-only store a real one (handed to
``nobody`` when the tests run as root, who could write anything).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from qiskit.providers import JobStatus

from qdispatch import Provider
from qdispatch.errors import JobNotFoundError
from qdispatch.plugins import reset_plugin_manager
from qdispatch.records import ChunkRecord, JobRecord

ROOT_DIR = Path(__file__).resolve().parents[2]
BELL = ROOT_DIR / "examples" / "bell.qasm"
HELPERS = Path(__file__).parent / "helpers"
NOBODY = 65534
SLOW = ("--backend", "aer_noisy", "--shots", "10000000")
"""With :func:`slow_qasm`: one task that holds the interpreter lock for minutes."""


@pytest.fixture(scope="module")
def slow_qasm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A noisy 6-qubit circuit 40 layers deep: 10 million shots take far longer than any test waits."""
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', "qreg q[6];", "creg c[6];"]
    for _ in range(40):
        lines += [f"h q[{k}];" for k in range(6)] + [f"cx q[{k}],q[{k + 1}];" for k in range(5)]
    lines.append("measure q -> c;")
    path = tmp_path_factory.mktemp("slow") / "slow.qasm"
    path.write_text("\n".join(lines) + "\n")
    return path


HOSTILE = "\x1b[2J\x1b]0;owned\x07"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "COLUMNS")}
    env.update(extra)
    return env


def qd(
    *args: object, expect: int | None = 0, cwd: Path | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``qdispatch ARGS`` as a process; check its exit status."""
    env = _env(**kwargs.pop("env", {}))
    done = subprocess.run(
        [sys.executable, "-m", "qdispatch.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=kwargs.pop("timeout", 180),
        env=env,
        cwd=cwd,
        **kwargs,
    )
    if expect is not None:
        assert done.returncode == expect, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def start(*args: object, **env: str) -> subprocess.Popen[str]:
    """Start ``qdispatch ARGS`` in its own session (so a kill reaches it alone)."""
    return subprocess.Popen(
        [sys.executable, "-m", "qdispatch.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(**env),
        start_new_session=True,
    )


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("warning:")]


def load(job_id: str, **store: Any) -> JobRecord | None:
    """The stored record of ``job_id`` in the isolated home's store, or ``None``."""
    with Provider(**store) as provider:
        try:
            return provider.store.load(job_id)
        except JobNotFoundError:
            return None


def wait_for(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("waited in vain")


@pytest.fixture
def fakes(
    tmp_path_factory: pytest.TempPathFactory, qdispatch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Install ``helpers/qdispatch_cli_fakes.py`` as a plugin for the processes the test starts."""
    site = tmp_path_factory.mktemp("fakes-site")
    shutil.copy(HELPERS / "qdispatch_cli_fakes.py", site / "qdispatch_cli_fakes.py")
    info = site / "qdispatch_cli_fakes-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qdispatch-cli-fakes\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[qdispatch]\ncli_fakes = qdispatch_cli_fakes\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(site))
    reset_plugin_manager()
    yield site
    reset_plugin_manager()


# -- 1: control characters ----------------------------------------------------------------------------


def test_control_characters_are_escaped_in_every_human_output(
    qdispatch_home: Path, done_record: JobRecord, tmp_path: Path, faults: Any
) -> None:
    tags = ("a\nforged-row  DONE", HOSTILE, "c1\x9b31m")
    message = f"remote says {HOSTILE}\nerror: forged line"
    with Provider() as provider:
        provider.store.save(attrs.evolve(done_record, job_id="hostile", tags=tags))
        provider.store.save(
            attrs.evolve(
                done_record,
                job_id="failed",
                status=JobStatus.ERROR,
                result=None,
                error_message=message,
                tags=tags,
            )
        )
    outputs = []
    listed = qd("jobs").stdout
    assert len(listed.splitlines()) == 3, listed  # the header and two jobs: no forged row
    outputs.append(listed)
    outputs.append(qd("job", "hostile").stdout)
    shown = qd("job", "failed")
    outputs.append(shown.stdout)
    assert "error_message: remote says \\x1b[2J\\x1b]0;owned\\x07\\nerror: forged line" in shown.stdout
    restored = qd("restore", "failed", expect=1)
    assert errors(restored.stderr) == [
        "error: job failed ended ERROR: remote says \\x1b[2J\\x1b]0;owned\\x07\\nerror: forged line"
    ]
    outputs += [restored.stdout, restored.stderr]
    bad_name = tmp_path / f"x{HOSTILE}.qasm"
    missing = qd("run", bad_name, expect=1)
    assert errors(missing.stderr) == [
        f"error: no such circuit file: {str(bad_name)!s}".replace(HOSTILE, "\\x1b[2J\\x1b]0;owned\\x07")
    ]
    outputs.append(missing.stderr)
    usage = qd("jobs", f"--{HOSTILE}", expect=2)
    outputs.append(usage.stderr)
    tagged = qd("run", BELL, "--shots", "10", "--tag", HOSTILE, "--job-id", "tagged")
    outputs += [tagged.stdout, tagged.stderr]
    for text in outputs:
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, text
    assert json.loads(qd("job", "hostile", "--json").stdout)["tags"] == list(tags)
    assert json.loads(qd("job", "failed", "--json").stdout)["error_message"] == message
    faults.record(
        "cli",
        "tags, error messages, file names and options holding ESC, BEL, CSI, newlines",
        8,
        "shown escaped (\\x1b, \\n) in tables, details, error lines; --json exact",
    )


def test_control_characters_are_escaped_on_a_terminal(
    qdispatch_home: Path, done_record: JobRecord, faults: Any
) -> None:
    import pty
    import select

    with Provider() as provider:
        provider.store.save(
            attrs.evolve(done_record, job_id="hostile", tags=(HOSTILE, "two\nlines"), error_message=HOSTILE)
        )
    for args in (("jobs",), ("job", "hostile")):
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "qdispatch.cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=terminal,
            env=_env(COLUMNS="200", TERM="xterm"),
        )
        os.close(terminal)
        chunks = []
        while select.select([controller], [], [], 60)[0]:
            try:
                data = os.read(controller, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(controller)
        assert process.wait(timeout=60) == 0
        output = b"".join(chunks).decode("utf-8", "replace")
        assert "\x1b[2J" not in output and "\x1b]0;" not in output and "\x07" not in output, output
        assert "\\x1b[2J" in output
    faults.record(
        "cli",
        "hostile tag and error message shown on a terminal (rich tables)",
        2,
        "escape sequences printed as text",
    )


# -- 2, 3: Ctrl-C, SIGTERM and SIGHUP -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signum", "executor"),
    [(signal.SIGINT, "thread"), (signal.SIGTERM, "thread"), (signal.SIGHUP, "process")],
)
def test_a_signal_cancels_a_local_job_stores_it_and_exits_promptly(
    qdispatch_home: Path, signum: int, executor: str, slow_qasm: Path, faults: Any
) -> None:
    job_id = f"stopped-{signum}"
    process = start("run", slow_qasm, *SLOW, "--executor", executor, "--job-id", job_id)
    wait_for(lambda: load(job_id))  # stored as soon as submitted
    time.sleep(1.0)  # the task runs (and, on the thread executor, holds the interpreter lock)
    sent = time.monotonic()
    os.kill(process.pid, signum)
    out, err = process.communicate(timeout=60)
    elapsed = time.monotonic() - sent
    name = signal.Signals(signum).name
    assert process.returncode == 128 + signum, (out, err)
    assert elapsed < 9, elapsed
    assert errors(err)[-1].startswith(f"error: {name}: job {job_id} stopped and stored as CANCELLED"), err
    record = load(job_id)
    assert record is not None and record.status is JobStatus.CANCELLED
    assert "status: CANCELLED" in out
    faults.record(
        "cli",
        f"{name} to 'qdispatch run' while a {executor} task simulates",
        1,
        f"job cancelled and stored CANCELLED; exit {128 + signum} after {elapsed:.1f} s",
    )


def test_a_signal_before_anything_was_submitted_exits_quietly(qdispatch_home: Path, faults: Any) -> None:
    process = start("jobs")
    os.kill(process.pid, signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode in (143, -15), err
    assert "Traceback" not in err
    faults.record(
        "cli", "SIGTERM to 'qdispatch jobs' while it starts", 1, "exits 143 (or killed), no traceback"
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_leaves_a_remote_job_running_and_stored_with_its_remote_id(
    fakes: Path, tmp_path: Path, signum: int, faults: Any
) -> None:
    log = tmp_path / "cancelled.log"
    job_id = f"remote-{signum}"
    process = start(
        "run",
        BELL,
        "--executor",
        "fake_remote",
        "--job-id",
        job_id,
        "--store-path",
        tmp_path / "jobs.sqlite",
        QDISPATCH_FAKE_CANCEL_LOG=str(log),
    )
    store = {"store_options": {"path": str(tmp_path / "jobs.sqlite")}}
    record = wait_for(lambda: (r := load(job_id, **store)) is not None and r.remote and r)
    assert record.chunks[0].state == {"remote_job_id": f"r-{job_id}-0"}  # kept before any signal came
    os.kill(process.pid, signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    assert not log.exists(), "the remote job was cancelled"
    assert "keeps running on its service (not cancelled)" in err
    assert (
        f"qdispatch restore {job_id} --store-path" in err and f"qdispatch cancel {job_id} --store-path" in err
    )
    stored = load(job_id, **store)
    assert stored is not None and stored.remote and stored.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    cancelled = qd(
        "cancel",
        job_id,
        "--store-path",
        tmp_path / "jobs.sqlite",
        env={"QDISPATCH_FAKE_CANCEL_LOG": str(log)},
    )
    assert "cancelled on its service" in cancelled.stdout
    assert log.read_text().split() == [f"r-{job_id}-0"]
    faults.record(
        "cli",
        f"{signal.Signals(signum).name} to 'qdispatch run' of a job on a remote service",
        1,
        "not cancelled; stored with its remote id; restore/cancel commands printed",
    )


def test_sigkill_right_after_the_service_answered_keeps_the_remote_id(fakes: Path, faults: Any) -> None:
    process = start("run", BELL, "--executor", "fake_remote", "--job-id", "killed")
    wait_for(lambda: (r := load("killed")) is not None and r.remote)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)
    record = load("killed")
    assert record is not None and record.chunks[0].state == {"remote_job_id": "r-killed-0"}
    faults.record(
        "cli",
        "SIGKILL to 'qdispatch run' (all its processes) once the service gave a job id",
        1,
        "the record holds the remote id; restore can resume it",
    )


# -- 4: stores that cannot be written ------------------------------------------------------------------


def _fsize(limit: int) -> Any:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_result_that_cannot_be_stored_is_still_printed(
    qdispatch_home: Path, tmp_path: Path, faults: Any
) -> None:
    path = tmp_path / "store"
    qd("jobs", "--store", "file", "--store-path", path)  # creates the store
    big = [BELL] * 40
    done = qd(
        "run",
        *big,
        "--shots",
        "4000",
        "--job-id",
        "too-big",
        "--store",
        "file",
        "--store-path",
        path,
        "--json",
        expect=1,
        preexec_fn=_fsize(12_000),
    )
    data = json.loads(done.stdout)
    assert data["status"] == "DONE" and len(data["counts"]) == 40
    message = errors(done.stderr)[-1]
    assert (
        message.startswith("error: job too-big ended DONE but could not be stored:")
        and "file-size" in message
    )
    assert "Traceback" not in done.stderr
    faults.record(
        "cli",
        "'qdispatch run' whose record exceeds RLIMIT_FSIZE = 12 kB",
        1,
        "counts printed, then one error line naming the file-size limit; exit 1",
    )


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_a_read_only_store_is_refused_before_the_job_runs(
    shared_tmp: Path, done_record: JobRecord, kind: str, tools: Any, faults: Any
) -> None:
    from qdispatch.stores.file import FileStore
    from qdispatch.stores.sqlite import SqliteStore

    directory = shared_tmp / "store"
    store = FileStore(directory) if kind == "file" else SqliteStore(directory / "jobs.sqlite")
    store.save(done_record)
    store.save(
        attrs.evolve(done_record, job_id="queued", status=JobStatus.QUEUED, result=None, finished_at=None)
    )
    store.close()
    target = directory / "jobs.sqlite" if kind == "sqlite" else directory
    for path in [*sorted(directory.iterdir()), directory]:
        if os.geteuid() == 0:
            os.chown(path, NOBODY, NOBODY)
        os.chmod(path, 0o500 if path.is_dir() else 0o400)
    before = tools.store_bytes(target)
    home = shared_tmp / "home"
    home.mkdir(mode=0o777)
    os.chmod(home, 0o777)
    (home / "config.toml").touch(mode=0o644)
    env = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "QDISPATCH_CONFIG": str(home / "config.toml"),
    }
    user = NOBODY if os.geteuid() == 0 else None
    where = ("--store", kind, "--store-path", target)
    for args in (("run", BELL, "--shots", "10", "--job-id", "never-run"), ("restore", "queued")):
        done = qd(*args, *where, expect=1, env=env, user=user, cwd=shared_tmp)
        assert (
            len(errors(done.stderr)) == 1 and "was not started: its store cannot be written" in done.stderr
        ), done
        assert "read-only" in done.stderr and "submitted" not in done.stderr and done.stdout == ""
    shown = qd(
        "restore", done_record.job_id, *where, env=env, user=user, cwd=shared_tmp
    )  # finished: only shown
    assert "status: DONE" in shown.stdout
    assert tools.store_bytes(target) == before
    faults.record(
        "cli",
        f"'qdispatch run' and 'restore' on a read-only {kind} store",
        2,
        "refused before submitting, one error line; store unchanged; finished jobs still shown",
    )


# -- 5: circuits without measurements -------------------------------------------------------------------


def test_circuits_without_measurements(qdispatch_home: Path, tmp_path: Path, faults: Any) -> None:
    from qiskit import QuantumCircuit

    from qdispatch.testing import bell

    (tmp_path / "none.qasm").write_text(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nx q[0];\n'
    )
    (tmp_path / "barrier.qasm").write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nbarrier q;\n')
    for name in ("none.qasm", "barrier.qasm"):
        done = qd("run", name, cwd=tmp_path, expect=1)
        assert errors(done.stderr) == [
            f"error: {name} measures nothing, so the job would have no counts; add "
            "measurements (such as 'measure q -> c;')"
        ]
    assert load_all() == []
    unmeasured = QuantumCircuit(2)
    unmeasured.x(0)
    with Provider() as provider:
        backend = provider.get_backend("aer")
        job = backend.run([unmeasured, bell()], shots=10, job_id="half-measured")
        job.result(timeout=60)
        job.persist()
        record = job.to_record()
        provider.store.save(
            attrs.evolve(
                record,
                job_id="half-queued",
                status=JobStatus.QUEUED,
                result=None,
                finished_at=None,
                created_at=record.created_at,
            )
        )
    shown = qd("job", "half-measured")
    assert (
        "counts[0]: -" in shown.stdout
        and "note: circuit 0 measured nothing, so there are no counts" in shown.stdout
    )
    assert json.loads(qd("job", "half-measured", "--json").stdout)["counts"][0] is None
    restored = qd("restore", "half-queued")
    assert "status: DONE" in restored.stdout and "note: circuit 0 measured nothing" in restored.stdout
    plot = qd("job", "half-measured", "--plot", tmp_path / "h.png", expect=1)
    assert errors(plot.stderr) == [
        "error: job half-measured: circuit 0 measured nothing, so there are no counts to plot"
    ]
    for done in (shown, restored, plot):
        assert "Traceback" not in done.stderr
    faults.record(
        "cli",
        "circuits with no measurement (none, or only a barrier) in run, job, restore, --plot",
        5,
        "run refuses before submitting; job and restore show the job with a note; no traceback",
    )


def load_all() -> list[str]:
    with Provider() as provider:
        return [s.job_id for s in provider.store.list()]


# -- 6: --timeout ---------------------------------------------------------------------------------------


def test_timeout_values(qdispatch_home: Path, faults: Any) -> None:
    for value in ("nan", "-1", "inf", "soon"):
        done = qd("run", BELL, "--timeout", value, expect=2)
        assert len(errors(done.stderr)) == 1 and errors(done.stderr)[0].startswith(
            "error: argument --timeout:"
        )
    assert qd("check-plugin", "thread", "--timeout", "0", expect=2).stderr.startswith(
        "error: argument --timeout"
    )
    assert load_all() == []
    done = qd("run", BELL, "--shots", "10", "--timeout", "0", "--job-id", "zero")
    assert "status: DONE" in done.stdout or "status: CANCELLED" in done.stdout
    if "status: DONE" in done.stdout:
        assert "counts:" in done.stdout and "error" not in done.stderr
    faults.record(
        "cli",
        "--timeout nan, -1, inf, soon; --timeout 0 on a quick job",
        5,
        "refused with one error line (exit 2); 0 allowed: a job that ended DONE is shown, exit 0",
    )


def test_timeout_bounds_the_wall_time_on_the_thread_executor(
    qdispatch_home: Path, slow_qasm: Path, faults: Any
) -> None:
    began = time.monotonic()
    done = qd("run", slow_qasm, *SLOW, "--timeout", "3", "--job-id", "slow", expect=1)
    elapsed = time.monotonic() - began
    assert elapsed < 16, elapsed
    assert errors(done.stderr)[-1].startswith("error: job slow did not finish within 3 s; it ended CANCELLED")
    record = load("slow")
    assert record is not None and record.status is JobStatus.CANCELLED
    faults.record(
        "cli",
        "--timeout 3 on a thread task that holds the interpreter lock ~20 s",
        1,
        f"cancelled, stored CANCELLED, exit 1 after {elapsed:.1f} s",
    )


# -- 7: check-plugin on a real store ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_check_plugin_leaves_a_real_store_as_it_found_it(
    qdispatch_home: Path, tmp_path: Path, kind: str, done_record: JobRecord, faults: Any
) -> None:
    path = tmp_path / ("jobs.sqlite" if kind == "sqlite" else "jobs")
    qd("check-plugin", kind, "--option", f"path={str(path)!r}")
    store = {"store": kind, "store_options": {"path": str(path)}}
    with Provider(**store) as provider:
        assert provider.store.list() == []
        provider.store.save(done_record)
    refused = qd("check-plugin", kind, "--option", f"path={str(path)!r}", expect=1)
    assert "already holds jobs" in refused.stdout
    with Provider(**store) as provider:
        assert [s.job_id for s in provider.store.list()] == [done_record.job_id]
    faults.record(
        "cli",
        f"check-plugin {kind} --option path=<a real store>, empty then holding a job",
        2,
        "no contract-* record left; a store holding jobs is refused and unchanged",
    )


# -- 8: cancel ------------------------------------------------------------------------------------------


def test_cancel_says_what_it_did(
    qdispatch_home: Path, done_record: JobRecord, monkeypatch: pytest.MonkeyPatch, faults: Any
) -> None:
    from qdispatch import cli
    from qdispatch.stores.sqlite import SqliteStore

    running = attrs.evolve(
        done_record,
        job_id="running",
        status=JobStatus.RUNNING,
        result=None,
        finished_at=None,
        chunks=(ChunkRecord(start=0, stop=3),),
    )
    with Provider() as provider:
        provider.store.save(running)
        provider.store.save(attrs.evolve(running, job_id="racing"))
    done = qd("cancel", "running")
    assert done.stdout.strip() == (
        "job running marked CANCELLED in the store (it was RUNNING); qdispatch will "
        "not run it again, but a process still running it is not stopped"
    )
    original = SqliteStore.load
    calls = []

    def load_then_finish(self: SqliteStore, job_id: str) -> JobRecord:
        record = original(self, job_id)
        calls.append(job_id)
        if len(calls) == 2:  # another process finishes the job between the read and the write
            self.save(attrs.evolve(done_record, job_id="racing"))
        return record

    monkeypatch.setattr(SqliteStore, "load", load_then_finish)
    err = []
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):
        code = cli.main(["cancel", "racing"])
    err = buffer.getvalue()
    assert code == 1
    assert errors(err) == ["error: job racing finished meanwhile (now DONE); nothing cancelled"]
    monkeypatch.setattr(SqliteStore, "load", original)
    assert load("racing").status is JobStatus.DONE  # type: ignore[union-attr]
    faults.record(
        "cli",
        "cancel of a RUNNING record; cancel while another process finishes the job",
        2,
        "says the record was marked and a running process is not stopped; 'finished meanwhile', exit 1",
    )


# -- 9: a plugin blocking in job_finished -------------------------------------------------------------


def test_a_plugin_blocking_in_job_finished_does_not_hang_run(fakes: Path, faults: Any) -> None:
    began = time.monotonic()
    done = qd("run", BELL, "--shots", "20", "--json", env={"QDISPATCH_FAKE_BLOCK_FINISHED": "1"}, timeout=120)
    elapsed = time.monotonic() - began
    assert (
        json.loads(done.stdout)["status"] == "DONE" and sum(json.loads(done.stdout)["counts"].values()) == 20
    )
    assert "plugin 'cli_fakes' has been in job_finished" in done.stderr, done.stderr
    assert elapsed < 60, elapsed
    faults.record(
        "cli",
        "a plugin whose job_finished blocks for 2 minutes",
        1,
        f"'qdispatch run' printed the counts and a warning naming the plugin after {elapsed:.0f} s",
    )
