"""Security: no pickle in stored data, owner-only files, secrets kept out, SQL parameterised.

And plugins can be blocked.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import secrets
import sqlite3
import stat
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from qiskit.providers import JobStatus

from qdispatch import InvalidInputError, JobCorruptError, JobFailedError, Provider
from qdispatch.config import default_data_dir
from qdispatch.records import JobRecord
from qdispatch.stores.file import FileStore
from qdispatch.stores.sqlite import SqliteStore
from qdispatch.testing import bell, x_circuit

PICKLE_SIGNS = (
    b"__reduce__",
    b"cbuiltins",
    b"c__builtin__",
    b"cposix",
    b"copyreg",
    b"\x80\x04\x95",
    b"\x80\x05\x95",
)


def store_path(kind: str, root: Path) -> Path:
    """Where a ``kind`` store lives under ``root``."""
    return root / ("jobs" if kind == "file" else "jobs.sqlite")


def all_bytes(path: Path) -> bytes:
    """Every byte a store keeps: the directory's files, or the database with its -wal and -shm."""
    if path.is_dir():
        return b"".join(p.read_bytes() for p in sorted(path.iterdir()) if p.is_file())
    return b"".join(
        Path(f"{path}{s}").read_bytes() for s in ("", "-wal", "-shm") if Path(f"{path}{s}").exists()
    )


def stored_texts(kind: str, path: Path) -> dict[str, str | bytes]:
    """The stored form of each record, as the store keeps it."""
    if kind == "file":
        return {p.stem: p.read_bytes() for p in path.glob("*.json")}
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT job_id, typeof(record), record FROM jobs").fetchall()
    assert {row[1] for row in rows} == {"text"}, "records must be stored as text"
    return {row[0]: row[2] for row in rows}


def varied_jobs(provider: Provider, tmp_path: Path) -> list[Any]:
    """Finished, failed, cancelled and noisy jobs, with tags, run options and memory."""
    aer = provider.get_backend("aer", seed_simulator=11)
    done = aer.run([bell(), x_circuit(3, 2)], shots=40, tags=["nightly", "x'y"], memory=True)
    noisy = provider.get_backend("aer_noisy", depolarizing_1q=0.01).run(x_circuit(2, 1), shots=40)
    failing = x_circuit(2, 1)
    failing.metadata = {"raise": "device fault"}
    failed = provider.get_backend("faulty").run(failing, shots=10)
    (tmp_path / "hold").touch()
    held = x_circuit(1, 1)
    held.metadata = {"sleep_while_exists": str(tmp_path / "hold")}
    blocker = provider.get_backend("faulty").run(held, shots=10)
    queued = aer.run([bell()] * 3, shots=10, max_circuits_per_task=1)
    queued.cancel()
    (tmp_path / "hold").unlink()
    for job in (done, noisy, blocker):
        job.result(timeout=60)
    with pytest.raises(JobFailedError):
        failed.result(timeout=60)
    return [done, noisy, failed, blocker, queued]


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_persisted_data_holds_no_pickle(kind: str, tmp_path: Path, faulty_plugin: Path, faults) -> None:
    path = store_path(kind, tmp_path)
    with Provider(
        executor="thread", executor_options={"max_workers": 1}, store=kind, store_options={"path": str(path)}
    ) as provider:
        jobs = varied_jobs(provider, tmp_path)
        for job in jobs:
            job.persist()
        assert {j.status() for j in jobs} >= {JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED}
    texts = stored_texts(kind, path)
    assert len(texts) == len(jobs)
    for job_id, text in texts.items():
        raw = text.encode() if isinstance(text, str) else text
        assert max(raw) < 0x80, f"{job_id}: a record is plain ASCII JSON, nothing binary"
        data = json.loads(raw)
        assert data["kind"] == "qdispatch.job"
        assert base64.b64decode(data["circuits"]).startswith(b"QISKIT"), "circuits are QPY"
        for sign in PICKLE_SIGNS:
            assert sign not in raw and sign not in base64.b64decode(data["circuits"])
    raw_store = all_bytes(path)
    for sign in (b"__reduce__", b"cbuiltins", b"c__builtin__", b"copyreg"):
        assert sign not in raw_store
    faults.record(
        "security",
        f"pickle looked for in every byte persisted ({kind} store: done, noisy, failed, cancelled jobs)",
        len(texts),
        "each record is ASCII JSON (circuits base64 QPY, result JSON); no pickle opcode or "
        "__reduce__/builtins/copyreg reference anywhere in the store's files",
    )


class _Marker:
    """Unpickling this creates a file: evidence that a payload ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Make every unpickling entry point fail loudly while the test loads records."""
    calls: list[str] = []

    def refuse(name: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"pickle.{name} called while loading a record")

        return refused

    for name in ("loads", "load", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse(name))
    yield calls


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_loading_a_record_never_unpickles(
    kind: str, tmp_path: Path, done_record: JobRecord, faults, request: pytest.FixtureRequest
) -> None:
    marker = tmp_path / "payload-ran"
    payload = pickle.dumps(_Marker(marker))
    encoded = base64.b64encode(payload).decode()
    path = store_path(kind, tmp_path)
    store = FileStore(path) if kind == "file" else SqliteStore(path)
    store.save(done_record)
    valid = (
        json.loads((path / f"{done_record.job_id}.json").read_text())
        if kind == "file"
        else json.loads(stored_texts(kind, path)[done_record.job_id])
    )
    crafted: dict[str, bytes] = {
        "raw-pickle": payload,
        "circuits-pickle": json.dumps({**valid, "job_id": "circuits-pickle", "circuits": encoded}).encode(),
        "result-pickle": json.dumps({**valid, "job_id": "result-pickle", "result": encoded}).encode(),
        "metadata-pickle": json.dumps(
            {**valid, "job_id": "metadata-pickle", "run_options": {"x": {"py/reduce": encoded}}}
        ).encode(),
        "provenance-pickle": json.dumps(
            {**valid, "job_id": "provenance-pickle", "provenance": {**valid["provenance"], "seed": encoded}}
        ).encode(),
    }
    for job_id, content in crafted.items():
        if kind == "file":
            (path / f"{job_id}.json").write_bytes(content)
        else:
            assert isinstance(store, SqliteStore)
            store.save(attrs.evolve(done_record, job_id=job_id))
            with sqlite3.connect(path) as db:
                db.execute("UPDATE jobs SET record = ? WHERE job_id = ?", (content, job_id))
    calls = request.getfixturevalue("no_unpickling")
    outcomes = {}
    with Provider(store=kind, store_options={"path": str(path)}) as provider:
        for job_id in crafted:
            try:
                record = store.load(job_id)
                outcomes[job_id] = f"loaded; run_options={record.run_options}"
            except JobCorruptError:
                outcomes[job_id] = "JobCorruptError"
        with warnings.catch_warnings(record=True):  # the file store warns that it skipped raw-pickle
            warnings.simplefilter("always")
            provider.jobs()
        restored = provider.job(
            done_record.job_id
        )  # a valid finished job loads with its result, no unpickling
        assert restored.result().get_counts() == done_record.result.get_counts()  # type: ignore[union-attr]
    assert calls == [] and not marker.exists()
    assert (
        outcomes["raw-pickle"]
        == outcomes["circuits-pickle"]
        == outcomes["result-pickle"]
        == "JobCorruptError"
    )
    faults.record(
        "security",
        "records carrying a pickle payload "
        f"(whole record, circuits, result, run options, provenance; {kind} store), "
        "loaded with pickle.load/loads/Unpickler booby-trapped",
        len(crafted),
        "; ".join(f"{k}: {v.split(';')[0]}" for k, v in outcomes.items())
        + "; pickle was never called and no payload ran; a valid job restored with its result",
    )


def mode(path: Path) -> int:
    """Permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_store_files_are_owner_only(umask: int, tmp_path: Path, done_record: JobRecord, faults) -> None:
    old = os.umask(umask)
    try:
        with Provider() as provider:  # the default sqlite store, in the (isolated) user data directory
            provider.get_backend("aer").run(bell(), shots=10).persist()
            provider.store.save(done_record)
            database = default_data_dir() / "jobs.sqlite"
            checked = {default_data_dir(): mode(default_data_dir())}
            checked |= {p: mode(p) for p in (database, Path(f"{database}-wal"), Path(f"{database}-shm"))}
        nested = tmp_path / "new" / "deeper" / "jobs"
        files = FileStore(nested)
        for job_id in ("a-1", "a-2"):
            files.save(attrs.evolve(done_record, job_id=job_id))
        checked[nested] = mode(nested)
        checked |= {p: mode(p) for p in nested.iterdir()}
        elsewhere = tmp_path / "other" / "jobs.sqlite"
        SqliteStore(elsewhere).save(done_record)
        checked[elsewhere.parent] = mode(elsewhere.parent)
        checked |= {p: mode(p) for p in elsewhere.parent.iterdir()}
    finally:
        os.umask(old)
    wrong = {str(p.name): oct(m) for p, m in checked.items() if m != (0o700 if p.is_dir() else 0o600)}
    assert wrong == {}
    assert len([p for p in checked if not p.is_dir()]) >= 8
    faults.record(
        "security",
        f"store permissions under umask {umask:04o} "
        "(default sqlite store with -wal/-shm, file store, new directories)",
        len(checked),
        f"all {len(checked)} paths checked: directories 0700, files 0600",
    )


def test_secrets_never_reach_records_logs_or_output(
    tmp_path: Path,
    faulty_plugin: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    faults,
) -> None:
    import logging

    from qdispatch import cli

    token = "tok-" + secrets.token_hex(16)
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("QDISPATCH_BACKENDS__FAULTY__TOKEN", token)  # as a user configures a service token
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # cli.main() replaces it
    places = {"file": tmp_path / "jobs", "sqlite": tmp_path / "jobs.sqlite"}
    ids = []
    for kind, path in places.items():
        for executor in ("thread", "process"):
            with Provider(
                executor=executor,
                executor_options={"max_workers": 1},
                store=kind,
                store_options={"path": str(path)},
            ) as provider:
                backend = provider.get_backend("faulty")
                assert backend.device_options["token"] == token and backend.device.has_token  # it was used
                explicit = provider.get_backend("faulty", token=token)
                failing = x_circuit(2, 1)
                failing.metadata = {"raise": "service refused the request"}
                jobs = [
                    backend.run(x_circuit(2, 2), shots=10, tags=["secret-test"]),
                    explicit.run(failing, shots=10),
                ]
                jobs[0].result(timeout=90)
                with pytest.raises(JobFailedError):
                    jobs[1].result(timeout=90)
                for job in jobs:
                    job.persist()
                    ids.append((kind, job.job_id()))
                    assert token not in repr(job) and token not in repr(job.to_record())
                    assert token not in job._repr_html_()
                restored = provider.job(jobs[0].job_id())  # the token comes back from the configuration
                assert restored.result().get_counts() == {"11": 10}
        for kind_, job_id in ids:
            if kind_ == kind:
                assert cli.main(["job", job_id, "--store", kind, "--store-path", str(path)]) == 0
                assert cli.main(["job", job_id, "--store", kind, "--store-path", str(path), "--json"]) == 0
        assert cli.main(["jobs", "--store", kind, "--store-path", str(path), "--json"]) == 0
    out, err = capfd.readouterr()
    assert "secret-test" in out and "service refused" in out  # the search below looks at the real output
    searched = {"captured stdout": out, "captured stderr": err, "log records": caplog.text}
    for kind, path in places.items():
        searched[f"{kind} store bytes"] = all_bytes(path).decode("latin-1")
    leaks = [where for where, text in searched.items() if token in text]
    assert leaks == []
    assert "faulty device ready (token given: True)" in caplog.text
    faults.record(
        "security",
        "an access token given to a device (marked secret) through the environment and as an option; "
        "jobs run on thread and process executors, failed and finished, persisted, restored, shown by "
        "`qdispatch job` and `qdispatch jobs`",
        len(ids),
        "the token was used (the device saw it; restore took it from the configuration) "
        "but appears in none of: " + ", ".join(searched) + ", nor in job repr or HTML",
    )


INJECTIONS = [
    "x' OR '1'='1",
    "'; DROP TABLE jobs; --",
    '" OR ""="',
    "%",
    "_",
    "1; DELETE FROM jobs",
    "') OR 1=1 --",
    "\\",
]


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_sql_injection_strings_are_only_data(
    kind: str, tmp_path: Path, done_record: JobRecord, faults
) -> None:
    path = store_path(kind, tmp_path)
    with Provider(store=kind, store_options={"path": str(path)}) as provider:
        store = provider.store
        store.save(attrs.evolve(done_record, job_id="plain-1", tags=("plain",)))
        for n, text in enumerate(INJECTIONS):
            store.save(attrs.evolve(done_record, job_id=f"inj-{n}", tags=(text,)))
        schema = None
        if kind == "sqlite":
            with sqlite3.connect(path) as db:
                schema = db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
        total = len(INJECTIONS) + 1
        tried = 0
        for n, text in enumerate(INJECTIONS):
            assert [s.job_id for s in provider.jobs(tag=text)] == [f"inj-{n}"], text
            assert provider.jobs(backend=text) == [], text
            assert provider.jobs(tag=text + "'") == [] and provider.jobs(tag="' OR 1=1 --" + text) == []
            with pytest.raises(InvalidInputError):
                provider.jobs(status=text)
            with pytest.raises(InvalidInputError):
                provider.job(text)
            tried += 5
        assert len(provider.jobs()) == total and provider.jobs(limit=3).__len__() == 3
        assert store.load("inj-1").tags == ("'; DROP TABLE jobs; --",)
    if kind == "sqlite":
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema
            assert db.execute("SELECT COUNT(*) FROM jobs").fetchone() == (total,)
    faults.record(
        "security",
        f"SQL injection strings as tags, tag/backend/status filters and job ids ({kind} store)",
        tried,
        "stored and matched only as literal data (each tag filter found exactly its job, wildcards matched "
        "nothing); statuses and ids rejected with InvalidInputError; schema and row count unchanged",
    )


MARKER_PLUGIN = '''"""A throw-away plugin whose import leaves a mark."""
import os
import pathlib

pathlib.Path(os.environ["QDISPATCH_TEST_MARKER"]).write_text("imported")

from qdispatch import hookimpl


@hookimpl
def register_backends(register):
    """Register nothing usable: only being imported matters."""
    register("marked", lambda **options: None)
'''

SNEAKY_MODULE = """import os, pathlib
pathlib.Path(os.environ["QDISPATCH_TEST_SNEAKY"]).write_text("imported")
"""

PROBE = """
import json, sys
from qdispatch import Provider
from qdispatch.testing import x_circuit
with Provider(executor="process", executor_options={"max_workers": 1}) as provider:
    counts = provider.get_backend("aer").run(x_circuit(2, 1), shots=10).result(timeout=90).get_counts()
    print(json.dumps({"backends": provider.backends(), "counts": counts,
                      "imported": "qdispatch_marker" in sys.modules}))
"""


def test_disabling_a_plugin_prevents_its_import(tmp_path: Path, qdispatch_home: Path, faults) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "qdispatch_marker.py").write_text(MARKER_PLUGIN)
    (site / "qdispatch_sneaky.py").write_text(SNEAKY_MODULE)  # importable, but no entry point names it
    info = site / "qdispatch_marker-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qdispatch-marker\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[qdispatch]\nmarker = qdispatch_marker\n")
    marker, sneaky = tmp_path / "marker", tmp_path / "sneaky"
    base = {
        **os.environ,
        "PYTHONPATH": str(site),
        "QDISPATCH_TEST_MARKER": str(marker),
        "QDISPATCH_TEST_SNEAKY": str(sneaky),
    }
    config = qdispatch_home / "config.toml"
    scenarios: dict[str, tuple[dict[str, str], str]] = {
        "enabled (control)": ({}, ""),
        "QDISPATCH_DISABLED_PLUGINS=marker": ({"QDISPATCH_DISABLED_PLUGINS": "marker"}, ""),
        "configuration disabled_plugins": ({}, 'disabled_plugins = ["marker"]\n'),
        "QDISPATCH_DISABLE_PLUGIN_AUTOLOAD=1": ({"QDISPATCH_DISABLE_PLUGIN_AUTOLOAD": "1"}, ""),
    }
    seen = {}
    for name, (extra, config_text) in scenarios.items():
        marker.unlink(missing_ok=True)
        config.write_text(config_text)
        completed = subprocess.run(
            [sys.executable, "-c", PROBE], env={**base, **extra}, capture_output=True, text=True, timeout=180
        )
        if "AUTOLOAD" in name:
            # Nothing at all is loaded, built-ins included: the probe cannot even find its executor.
            assert completed.returncode != 0 and "unknown executor 'process'" in completed.stderr
            seen[name] = "nothing loaded (even built-ins); marker not imported"
        else:
            assert completed.returncode == 0, completed.stderr
            result = json.loads(completed.stdout.splitlines()[-1])
            assert result["counts"] == {"01": 10}
            enabled = name.startswith("enabled")
            assert result["imported"] is enabled and ("marked" in result["backends"]) is enabled
            seen[name] = (
                "imported and registered" if enabled else "never imported (here or in the worker); aer ran"
            )
        assert marker.exists() is name.startswith("enabled"), name
        assert not sneaky.exists(), "a module without an entry point was imported"
    faults.record(
        "security",
        "a plugin whose import leaves a mark, installed through a .dist-info entry point; disabled by "
        "environment, by configuration, and by switching autoload off (each in a fresh process with a "
        "process-executor worker)",
        len(scenarios),
        "; ".join(f"{k}: {v}" for k, v in seen.items())
        + "; a module on the path without an entry point was never imported",
    )
