"""Hardening of the stores: hostile files, refused paths, guarded writes, read-only and full disks."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import struct
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from qiskit.providers import JobStatus

from qdispatch import ConfigurationError, JobCorruptError
from qdispatch.errors import InsecureStoreError, JobExistsError, JobNotFoundError, JobStateError
from qdispatch.records import JobRecord
from qdispatch.stores.file import FileStore
from qdispatch.stores.sqlite import SqliteStore

ROOT = os.geteuid() == 0
NOBODY = 65534
KINDS = ["file", "sqlite"]


def open_store(kind: str, directory: Path) -> Any:
    return FileStore(directory) if kind == "file" else SqliteStore(directory / "jobs.sqlite")


def job_file(store: FileStore, job_id: str) -> Path:
    return store.path / f"{job_id}.json"


def run_action(
    tools: Any, kind: str, path: Path, action: str, job_id: str, *extra: object, as_other_user: bool = False
) -> dict[str, Any]:
    """Run ``helpers/store_action.py``, as ``nobody`` when asked and this process is root."""
    user = NOBODY if as_other_user and ROOT else None
    done = subprocess.run(
        tools.helper("store_action.py", kind, path, action, job_id, *extra),
        capture_output=True,
        text=True,
        timeout=120,
        user=user,
        cwd=path.parent,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- 3: directories others can write ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_own_group_writable_directory_is_fixed_with_a_warning(kind: str, tmp_path: Path, faults) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    os.chmod(directory, 0o777)
    with pytest.warns(
        RuntimeWarning, match=r"could be written by its group and other users; qdispatch removed"
    ):
        open_store(kind, directory).close()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o755
    faults.record(
        "stores",
        f"{kind} store in a pre-created mode-0777 directory of the user",
        1,
        "write bits of group and others removed (0777 -> 0755) with a warning",
    )


@pytest.mark.skipif(not ROOT, reason="making a directory that belongs to another user needs root")
@pytest.mark.parametrize("kind", KINDS)
def test_others_world_writable_directory_is_refused(kind: str, tmp_path: Path, faults) -> None:
    directory = tmp_path / "theirs"
    directory.mkdir()
    os.chown(directory, NOBODY, NOBODY)
    os.chmod(directory, 0o777)
    with pytest.raises(InsecureStoreError, match="belongs to another user"):
        open_store(kind, directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o777 and list(directory.iterdir()) == []
    faults.record(
        "stores",
        f"{kind} store in another user's world-writable directory",
        1,
        "InsecureStoreError; nothing created, mode unchanged",
    )


# -- 4: temporary files and empty paths ------------------------------------------------------------------


def test_listing_never_removes_files_qdispatch_did_not_write(
    tmp_path: Path, done_record: JobRecord, faults
) -> None:
    store = FileStore(tmp_path / "jobs")
    store.save(done_record)
    old = time.time() - 7200
    theirs = [store.path / ".vimrc.tmp", store.path / ".notes.tmp", store.path / ".qdispatch-x-notours.tmp"]
    for path in theirs:
        path.write_text("user data")
        os.utime(path, (old, old))
    FileStore(store.path).list()
    FileStore(store.path).save(done_record)
    assert all(p.exists() for p in theirs)
    ours = store.path / f".qdispatch-{done_record.job_id}-{'a' * 32}.tmp"
    ours.write_text("left by a killed writer")
    os.utime(ours, (old, old))
    FileStore(store.path)
    assert not ours.exists() and all(p.exists() for p in theirs)
    faults.record(
        "stores",
        "old .*.tmp files of the user in the file store directory",
        len(theirs),
        "kept by listing and saving; only qdispatch's own stale temporary removed",
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("path", ["", "  "])
def test_empty_store_path_is_refused(
    kind: str, path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults
) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(ConfigurationError, match="empty"):
        FileStore(path) if kind == "file" else SqliteStore(path)
    assert list(work.iterdir()) == []
    faults.record(
        "config", f"{kind} store path {path!r}", 1, "ConfigurationError; nothing created in the cwd"
    )


# -- 5: :memory:, URIs and ~ ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [":memory:", "file:jobs.sqlite?mode=memory", "file::memory:"])
def test_sqlite_memory_and_uri_paths_are_refused(
    path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults
) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(ConfigurationError, match="in-memory database or SQLite URI"):
        SqliteStore(path)
    assert list(work.iterdir()) == []
    faults.record("config", f"sqlite path {path!r}", 1, "ConfigurationError; no stray file")


@pytest.mark.parametrize("kind", KINDS)
def test_tilde_in_a_path_is_the_home_directory(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    store = FileStore("~/jobs") if kind == "file" else SqliteStore("~/jobs.sqlite")
    store.close()
    assert not (work / "~").exists()
    assert (home / ("jobs" if kind == "file" else "jobs.sqlite")).exists()
    faults.record("config", f"{kind} store path starting with ~", 1, "expanded to the home directory")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("path", [42, 1.5, True, ["a"]])
def test_store_path_of_the_wrong_type_names_the_option(kind: str, path: object) -> None:
    with pytest.raises(ConfigurationError, match=f"{kind} store option 'path' must be a path"):
        FileStore(path) if kind == "file" else SqliteStore(path)  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), -1.0, 0, 10**9])
def test_sqlite_timeout_must_be_finite_and_positive(timeout: float, tmp_path: Path, faults) -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"option 'timeout' of store 'sqlite' must be (a finite number above 0|at most)",
    ):
        SqliteStore(tmp_path / "jobs.sqlite", timeout=timeout)
    faults.record("config", f"sqlite timeout = {timeout!r}", 1, "refused before opening the database")


# -- 6: special files -------------------------------------------------------------------------------------


def test_fifo_and_device_records_are_skipped_and_refused(
    tmp_path: Path, done_record: JobRecord, tools: Any, faults
) -> None:
    store = FileStore(tmp_path / "jobs")
    store.save(done_record)
    os.mkfifo(store.path / "pipe-1.json")
    (store.path / "zero-1.json").symlink_to("/dev/zero")
    with pytest.warns(RuntimeWarning) as caught:
        listed = tools.call_with_deadline(store.list)
    assert [s.job_id for s in listed] == [done_record.job_id]
    messages = " | ".join(str(w.message) for w in caught)
    assert "pipe-1.json is a FIFO" in messages and "zero-1.json is a device" in messages
    for job_id, kind in (("pipe-1", "FIFO"), ("zero-1", "device")):
        with pytest.raises(JobCorruptError, match=f"{job_id}.json is a {kind}"):
            tools.call_with_deadline(lambda j=job_id: store.load(j))
    faults.record(
        "stores",
        "FIFO and symlink to /dev/zero named *.json in the file store",
        2,
        "listing skips each with a warning naming it; load raises JobCorruptError",
    )


def test_oversized_record_file_is_not_read(
    tmp_path: Path, done_record: JobRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qdispatch.stores.file as file_module

    store = FileStore(tmp_path / "jobs")
    store.save(done_record)
    size = job_file(store, done_record.job_id).stat().st_size
    monkeypatch.setattr(file_module, "MAX_RECORD_BYTES", size - 1)
    with pytest.raises(JobCorruptError, match="more than the limit"):
        store.load(done_record.job_id)
    with pytest.warns(RuntimeWarning, match="more than the limit"):
        assert store.list() == []


# -- 7: times without a timezone ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_record_with_a_naive_date_is_corrupt_not_a_crash(
    kind: str, tmp_path: Path, done_record: JobRecord, faults
) -> None:
    store = open_store(kind, tmp_path / "store")
    store.save(done_record)
    naive = attrs.evolve(done_record, job_id="naive-1")
    store.save(naive)
    old = naive.created_at.isoformat()
    new = naive.created_at.replace(tzinfo=None).isoformat()
    if kind == "file":
        path = job_file(store, "naive-1")
        path.write_text(path.read_text().replace(old, new))
    else:
        with sqlite3.connect(store.path) as db:
            db.execute(
                "UPDATE jobs SET created_at = ?, record = replace(record, ?, ?) WHERE job_id = 'naive-1'",
                (new, old, new),
            )
    with pytest.warns(RuntimeWarning, match="naive-1"):
        assert [s.job_id for s in store.list()] == [done_record.job_id]
    with pytest.raises(JobCorruptError, match="has no timezone"):
        store.load("naive-1")
    faults.record(
        "stores",
        f"{kind} record whose created_at has no timezone",
        1,
        "skipped with a warning by listing; JobCorruptError on load",
    )


# -- 8: circuit headers claiming huge sizes --------------------------------------------------------


def qpy_with_qubits(done_record: JobRecord, qubits: int) -> str:
    """The record's QPY with the first circuit's header claiming ``qubits`` qubits, as base64."""
    data = bytearray(done_record.circuits.qpy())
    version, programs = data[6], struct.unpack_from("!Q", data, 10)[0]
    assert version >= 16 and programs >= 1
    offset = struct.unpack_from("!Q", data, 20)[0]
    struct.pack_into(
        "!I", data, offset + 5, qubits
    )  # name_size H, phase type c, phase size H, then num_qubits
    return base64.b64encode(bytes(data)).decode()


@pytest.mark.parametrize("kind", KINDS)
def test_circuit_header_claiming_millions_of_qubits_is_refused(
    kind: str, tmp_path: Path, done_record: JobRecord, tools: Any, faults
) -> None:
    store = open_store(kind, tmp_path / "store")
    store.save(done_record)
    good = done_record.circuits.qpy_base64()
    bad = qpy_with_qubits(done_record, 50_000_000)
    if kind == "file":
        path = job_file(store, done_record.job_id)
        path.write_text(path.read_text().replace(good, bad))
    else:
        with sqlite3.connect(store.path) as db:
            db.execute("UPDATE jobs SET record = replace(record, ?, ?)", (good, bad))
    code = (
        f"import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        f"from qdispatch.stores.{kind} import {'FileStore' if kind == 'file' else 'SqliteStore'} as S\n"
        f"from qdispatch import JobCorruptError\n"
        f"try:\n    S({str(store.path)!r}).load({done_record.job_id!r})\n"
        f"except JobCorruptError as exc:\n    print('corrupt:', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "corrupt:" in done.stdout and "50000000 qubits" in done.stdout, done.stdout
    faults.record(
        "stores",
        f"{kind} record whose QPY header claims 50,000,000 qubits",
        1,
        "JobCorruptError before decoding, under a 2 GiB address-space limit",
    )


def test_decoded_circuits_are_checked_too(done_record: JobRecord, monkeypatch: pytest.MonkeyPatch) -> None:
    import qdispatch.serialization as serialization

    monkeypatch.setattr(serialization, "MAX_QUBITS", 1)
    monkeypatch.setattr(serialization, "check_qpy", lambda data: None)
    with pytest.raises(JobCorruptError, match="the limits are 1"):
        serialization.decode_record(serialization.encode_record(done_record), done_record.job_id)


# -- 9 and 10: guarded writes ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_another_job_under_a_stored_id_is_refused(
    kind: str, tmp_path: Path, done_record: JobRecord, tools: Any, faults
) -> None:
    store = open_store(kind, tmp_path / "store")
    store.save(done_record)
    store.save(attrs.evolve(done_record, tags=("newer", "state")))  # the same job, a newer state
    kept = tools.store_bytes(store.path)
    other = attrs.evolve(done_record, created_at=done_record.created_at + timedelta(hours=1), tags=("other",))
    with pytest.raises(JobExistsError, match="already exists"):
        store.save(other)
    assert tools.store_bytes(store.path) == kept
    assert store.load(done_record.job_id).tags == ("newer", "state")
    faults.record(
        "stores", f"{kind}: save of another job under a stored id", 1, "JobExistsError; store unchanged"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_conditional_save_writes_only_over_the_expected_status(
    kind: str, tmp_path: Path, done_record: JobRecord, faults
) -> None:
    store = open_store(kind, tmp_path / "store")
    running = attrs.evolve(done_record, status=JobStatus.RUNNING, result=None)
    store.save(running)
    store.save(done_record)  # the job finished meanwhile
    cancelled = attrs.evolve(running, status=JobStatus.CANCELLED)
    with pytest.raises(JobStateError, match=r"is DONE .* not RUNNING"):
        store.save(cancelled, expected_status=JobStatus.RUNNING)
    assert store.load(done_record.job_id).status is JobStatus.DONE
    store.save(cancelled, expected_status=JobStatus.DONE)
    assert store.load(done_record.job_id).status is JobStatus.CANCELLED
    with pytest.raises(JobNotFoundError):
        store.save(attrs.evolve(cancelled, job_id="nowhere-1"), expected_status=JobStatus.RUNNING)
    faults.record(
        "stores",
        f"{kind}: cancel-style conditional save after the job finished",
        1,
        "JobStateError naming DONE; the finished record kept",
    )


@pytest.mark.parametrize("kind", KINDS)
def test_conditional_saves_race_and_exactly_one_wins(
    kind: str, tmp_path: Path, done_record: JobRecord
) -> None:
    store = open_store(kind, tmp_path / "store")
    running = attrs.evolve(done_record, status=JobStatus.RUNNING, result=None)
    store.save(running)
    wins: list[str] = []
    barrier = threading.Barrier(8)

    def race(n: int) -> None:
        barrier.wait()
        try:
            store.save(
                attrs.evolve(running, status=JobStatus.CANCELLED, error_message=f"w{n}"),
                expected_status=JobStatus.RUNNING,
            )
            wins.append(f"w{n}")
        except JobStateError:
            pass

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and store.load(done_record.job_id).error_message == wins[0]


def test_store_contract_covers_guarded_writes() -> None:
    from qdispatch.contract.stores import STORE_CHECKS, check_store

    assert {"other job, same id", "conditional save"} <= set(STORE_CHECKS)
    for name in KINDS:
        report = check_store(name)
        assert [c.outcome for c in report.checks] == ["passed"] * len(STORE_CHECKS), str(report)


# -- 12: read-only stores and unreadable records ---------------------------------------------------


def give_away(path: Path, mode: int) -> None:
    """Hand ``path`` to the user the read-only checks run as, then set its mode."""
    if ROOT:
        os.chown(path, NOBODY, NOBODY)
    os.chmod(path, mode)


@pytest.mark.parametrize("kind", KINDS)
def test_read_only_store_lists_and_loads_but_refuses_writes(
    kind: str, shared_tmp: Path, done_record: JobRecord, tools: Any, faults
) -> None:
    directory = shared_tmp / "store"
    store = open_store(kind, directory)
    store.save(done_record)
    store.close()
    target = directory / "jobs.sqlite" if kind == "sqlite" else directory
    for path in sorted(directory.iterdir()):
        give_away(path, 0o400)
    give_away(directory, 0o500)
    before = tools.store_bytes(target)
    listed = run_action(tools, kind, target, "list", done_record.job_id, as_other_user=True)
    assert listed.get("listed") == [done_record.job_id], listed
    loaded = run_action(tools, kind, target, "load", done_record.job_id, as_other_user=True)
    assert loaded.get("loaded") == done_record.job_id, loaded
    saved = run_action(tools, kind, target, "save", done_record.job_id, as_other_user=True)
    assert saved.get("error") == "StoreError" and "read-only" in saved["message"], saved
    assert tools.store_bytes(target) == before
    faults.record(
        "stores",
        f"{kind} store in a read-only directory (mode 0500, files 0400)",
        3,
        "list and load work; save raises StoreError saying read-only; nothing changed",
    )


def test_unreadable_record_is_named_when_listing(
    shared_tmp: Path, done_record: JobRecord, tools: Any, faults
) -> None:
    directory = shared_tmp / "store"
    store = FileStore(directory)
    store.save(done_record)
    store.save(attrs.evolve(done_record, job_id="locked-1"))
    give_away(directory, 0o700)
    give_away(directory / f"{done_record.job_id}.json", 0o600)
    give_away(directory / "locked-1.json", 0o000)
    listed = run_action(tools, "file", directory, "list", "locked-1", as_other_user=True)
    assert listed.get("listed") == [done_record.job_id], listed
    assert any("locked-1.json" in w and "Permission denied" in w for w in listed["warnings"]), listed
    faults.record(
        "stores", "record file with mode 0000 in the file store", 1, "skipped with a warning naming it"
    )


# -- 13: file-size limit while saving --------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_file_size_limit_on_save_keeps_the_previous_record(
    kind: str, tmp_path: Path, done_record: JobRecord, tools: Any, faults
) -> None:
    directory = tmp_path / "store"
    store = open_store(kind, directory)
    store.save(done_record)
    store.close()
    target = directory / "jobs.sqlite" if kind == "sqlite" else directory
    outcome = run_action(tools, kind, target, "grow", done_record.job_id, 1_000_000)
    assert outcome.get("error") == "StoreError", outcome
    assert "file-size limit" in outcome["message"] and "unchanged" in outcome["message"], outcome
    reopened = open_store(kind, directory)
    assert reopened.load(done_record.job_id).error_message == done_record.error_message
    assert [s.job_id for s in reopened.list()] == [done_record.job_id]
    if kind == "file":
        assert sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp")) == []
    faults.record(
        "stores",
        f"{kind}: save of a 4 MB record under RLIMIT_FSIZE = 1 MB",
        1,
        "StoreError naming the file-size limit; previous record intact",
    )
