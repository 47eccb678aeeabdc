"""Damaged records: truncated, garbage, foreign or future-format data give typed errors, never a crash."""

from __future__ import annotations

import base64
import json
import pickle
import sqlite3
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from qdispatch import JobCorruptError, JobIncompatibleError, Provider, StoreError
from qdispatch.errors import JobError
from qdispatch.records import JobRecord
from qdispatch.serialization import encode_record
from qdispatch.stores.file import FileStore
from qdispatch.stores.sqlite import SqliteStore

BAD_ID = "damaged-1"
GOOD_IDS = ("good-1", "good-2", "good-3")


class _Marker:
    """Pickles as a call that creates a file: proof of execution if it were ever unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def _data(record: JobRecord) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(encode_record(record))
    return data


def _with(record: JobRecord, **changes: Any) -> bytes:
    data = _data(record)
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data).encode()


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# name -> (make the stored bytes from a valid record of BAD_ID and a marker path, expected error)
DAMAGE: dict[str, tuple[Callable[[JobRecord, Path], bytes], type[JobError]]] = {
    "truncated to half": (
        lambda r, m: encode_record(r).encode()[: len(encode_record(r)) // 2],
        JobCorruptError,
    ),
    "truncated to one byte": (lambda r, m: b"{", JobCorruptError),
    "empty": (lambda r, m: b"", JobCorruptError),
    "binary garbage (not UTF-8)": (lambda r, m: bytes(range(256)) * 4, JobCorruptError),
    "foreign JSON object": (lambda r, m: b'{"name": "not a job", "value": 3}', JobCorruptError),
    "JSON array": (lambda r, m: b"[1, 2, 3]", JobCorruptError),
    "JSON null": (lambda r, m: b"null", JobCorruptError),
    "deeply nested JSON": (lambda r, m: _deep(100_000), JobCorruptError),
    "future format_version": (lambda r, m: _with(r, format_version=99), JobIncompatibleError),
    "format_version 0": (lambda r, m: _with(r, format_version=0), JobCorruptError),
    "format_version missing": (lambda r, m: _with(r, format_version=...), JobCorruptError),
    "format_version a string": (lambda r, m: _with(r, format_version="1"), JobCorruptError),
    "required field missing": (lambda r, m: _with(r, circuits=...), JobCorruptError),
    "unknown extra field": (lambda r, m: _with(r, surprise=1), JobCorruptError),
    "circuits not base64": (lambda r, m: _with(r, circuits="%%% not base64 %%%"), JobCorruptError),
    "circuits base64 of garbage": (
        lambda r, m: _with(r, circuits=base64.b64encode(b"garbage" * 9).decode()),
        JobCorruptError,
    ),
    "circuits a pickle payload": (
        lambda r, m: _with(r, circuits=base64.b64encode(pickle.dumps(_Marker(m))).decode()),
        JobCorruptError,
    ),
    "result a pickle payload": (
        lambda r, m: _with(r, result=base64.b64encode(pickle.dumps(_Marker(m))).decode()),
        JobCorruptError,
    ),
    "whole record a pickle payload": (lambda r, m: pickle.dumps(_Marker(m)), JobCorruptError),
    "status unknown": (lambda r, m: _with(r, status="EXPLODED"), JobCorruptError),
    "status wrong type": (lambda r, m: _with(r, status=3), JobCorruptError),
    "created_at not a date": (lambda r, m: _with(r, created_at="yesterday"), JobCorruptError),
    "shots a string": (lambda r, m: _with(r, shots="many"), JobCorruptError),
    "result malformed": (lambda r, m: _with(r, result={"foo": 1}), JobCorruptError),
    "chunks malformed": (lambda r, m: _with(r, chunks=[{"start": "a"}]), JobCorruptError),
    "record of another job": (
        lambda r, m: encode_record(attrs.evolve(r, job_id="someone-else")).encode(),
        JobCorruptError,
    ),
}


def _store(kind: str, tmp_path: Path) -> FileStore | SqliteStore:
    if kind == "file":
        return FileStore(tmp_path / "jobs")
    return SqliteStore(tmp_path / "jobs.sqlite")


def _plant(store: FileStore | SqliteStore, record: JobRecord, payload: bytes) -> None:
    """Put ``payload`` where ``store`` keeps ``record``, bypassing the store's encoder."""
    if isinstance(store, FileStore):
        (store.path / f"{BAD_ID}.json").write_bytes(payload)
        return
    store.save(record)  # valid indexed columns: the damage shows only when the record is read
    try:
        value: str | bytes = payload.decode("utf-8")
    except UnicodeDecodeError:
        value = payload
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE jobs SET record = ? WHERE job_id = ?", (value, BAD_ID))


@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_damaged_records_give_typed_errors_and_leave_the_rest_readable(
    kind: str, tmp_path: Path, done_record: JobRecord, faults
) -> None:
    marker = tmp_path / "pickle-was-executed"
    tried = []
    skipped = 0
    for damage, (make, error) in DAMAGE.items():
        store = _store(kind, tmp_path / damage.replace(" ", "_"))
        for job_id in GOOD_IDS:
            store.save(attrs.evolve(done_record, job_id=job_id))
        bad = attrs.evolve(done_record, job_id=BAD_ID)
        _plant(store, bad, make(bad, marker))

        with pytest.raises(error) as caught:
            store.load(BAD_ID)
        assert type(caught.value) is error, damage
        assert caught.value.job_id == BAD_ID and BAD_ID in str(caught.value), damage

        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            listed = {s.job_id for s in store.list()}
        assert listed >= set(GOOD_IDS), damage
        if (
            kind == "file"
        ):  # the file store reads summary fields to list: if they are damaged, it skips with a warning
            assert BAD_ID in listed or any(BAD_ID in str(w.message) for w in warned), damage
            skipped += BAD_ID not in listed
        else:  # sqlite lists from indexed columns: the damaged record shows, and fails only on load
            assert BAD_ID in listed, damage
        for job_id in GOOD_IDS:
            assert store.load(job_id).circuits == done_record.circuits

        with Provider(store=kind, store_options={"path": str(store.path)}) as provider, pytest.raises(error):
            provider.job(BAD_ID)
        store.close()
        tried.append(damage)
    assert not marker.exists(), "a pickle payload in a record was executed"
    faults.record(
        "damaged records",
        f"{kind} store: a damaged record among good ones ({', '.join(tried)})",
        len(tried),
        "each load gave JobCorruptError (JobIncompatibleError for the future format) carrying the job "
        "id; listing never raised"
        + (
            f" and skipped {skipped} damaged files with a warning naming the job (the others have intact "
            "summary fields, so they are listed and fail only on load)"
            if kind == "file"
            else " (sqlite lists from indexed columns, so the damaged job shows and fails only on load)"
        )
        + "; the other records stayed readable; no pickle payload ran",
    )


def test_damaged_index_columns_never_crash_sqlite_listing(
    tmp_path: Path, done_record: JobRecord, faults
) -> None:
    store = SqliteStore(tmp_path / "jobs.sqlite")
    for job_id in GOOD_IDS:
        store.save(attrs.evolve(done_record, job_id=job_id))
    damaged_rows = {
        "bad-status": {"status": "EXPLODED"},
        "bad-created": {"created_at": "yesterday"},
        "bad-tags": {"tags": "not json"},
        "bad-tags-type": {"tags": '{"a": 1}'},
        "bad-shots": {"shots": "many"},
        "bad-id": {"job_id": "../escape"},
    }
    for job_id in damaged_rows:
        store.save(attrs.evolve(done_record, job_id=job_id))
    with sqlite3.connect(store.path) as db:
        for job_id, change in damaged_rows.items():
            column, value = next(iter(change.items()))
            db.execute(f"UPDATE jobs SET {column} = ? WHERE job_id = ?", (value, job_id))  # test-only SQL
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        listed = {s.job_id for s in store.list()}
    assert listed == set(GOOD_IDS)
    assert len([w for w in warned if "skipped unreadable row" in str(w.message)]) == len(damaged_rows)
    store.close()
    faults.record(
        "damaged records",
        "sqlite rows with damaged indexed columns (status, created_at, tags, shots, job id)",
        len(damaged_rows),
        "listing skipped each damaged row with a warning naming it and returned the good jobs",
    )


def test_foreign_files_in_a_file_store_are_not_listed(tmp_path: Path, done_record: JobRecord, faults) -> None:
    store = FileStore(tmp_path / "jobs")
    store.save(attrs.evolve(done_record, job_id="good-1"))
    (store.path / "not a job id!.json").write_text(encode_record(attrs.evolve(done_record, job_id="good-2")))
    (store.path / "impostor.json").write_text(encode_record(attrs.evolve(done_record, job_id="good-3")))
    (store.path / "folder.json").mkdir()
    (store.path / "notes.txt").write_text("not a record")
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        listed = [s.job_id for s in store.list()]
    assert listed == ["good-1"]
    messages = " ".join(str(w.message) for w in warned)
    assert "not a job id" in messages and "holds the record of job 'good-3'" in messages
    faults.record(
        "damaged records",
        "file store: foreign files (bad name, another job's record, a folder, a non-JSON file)",
        4,
        "listing returned only the real job, with a warning naming each foreign record file",
    )


@pytest.mark.parametrize("content", ["text", "foreign-sqlite"])
def test_a_foreign_database_file_is_a_store_error(
    tmp_path: Path, done_record: JobRecord, content: str, faults
) -> None:
    path = tmp_path / "jobs.sqlite"
    if content == "text":
        path.write_text("this is not a database\n" * 100)
        with pytest.raises(StoreError, match="not a database"):
            SqliteStore(path)
    else:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, payload BLOB)")
        before = path.read_bytes()
        with pytest.raises(
            StoreError, match="is not a qdispatch job store: its 'jobs' table has the columns id, payload"
        ):
            SqliteStore(path)
        assert path.read_bytes() == before
    faults.record(
        "damaged records",
        "sqlite store path holding " + ("a text file" if content == "text" else "another program's database"),
        1,
        "StoreError naming the file; nothing overwritten",
    )
