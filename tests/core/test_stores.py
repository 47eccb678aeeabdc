"""The built-in stores, file and sqlite, behave alike: save, load, list, delete."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from qiskit.providers import JobStatus

from qdispatch import InvalidJobIdError, JobNotFoundError, JobRecord, Provider, StoreError
from qdispatch.compile import transpile_for
from qdispatch.stores.file import FileStore
from qdispatch.stores.sqlite import SqliteStore
from qdispatch.testing import bell, x_circuit


@pytest.fixture(params=["file", "sqlite"])
def store_provider(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Provider]:
    path = tmp_path / ("jobs" if request.param == "file" else "jobs.sqlite")
    with Provider(store=request.param, store_options={"path": str(path)}) as provider:
        yield provider


def finished_record(provider: Provider, backend: str = "aer", **run: Any) -> JobRecord:
    target = provider.get_backend(backend)
    job = target.run(transpile_for(target, [bell(), x_circuit(3, 1)]), shots=40, **run)
    job.result()
    return job.to_record()


def test_round_trip_keeps_everything(store_provider: Provider) -> None:
    record = finished_record(store_provider, seed_simulator=11, tags=["a", "b"])
    store = store_provider.store
    store.save(record)
    loaded = store.load(record.job_id)
    assert loaded.circuits == record.circuits
    assert loaded.result is not None and record.result is not None
    assert loaded.result.get_counts() == record.result.get_counts()
    assert attrs.evolve(loaded, circuits=record.circuits, result=record.result) == record
    assert loaded.provenance.seed == 11
    assert loaded.provenance.simulator_version and loaded.provenance.qiskit_version


def test_listing_filters_by_status_backend_and_tag(store_provider: Provider) -> None:
    store = store_provider.store
    done = finished_record(store_provider, tags=["x"])
    noisy = finished_record(store_provider, backend="aer_noisy", tags=["y"])
    queued = attrs.evolve(done, job_id="queued-job", status=JobStatus.QUEUED, result=None)
    for record in (done, noisy, queued):
        store.save(record)
    assert {s.job_id for s in store.list()} == {done.job_id, noisy.job_id, "queued-job"}
    assert [s.job_id for s in store.list(status=JobStatus.QUEUED)] == ["queued-job"]
    assert [s.job_id for s in store.list(backend="aer_noisy")] == [noisy.job_id]
    assert [s.job_id for s in store.list(tag="y")] == [noisy.job_id]
    assert {s.job_id for s in store.list(tag="x")} == {done.job_id, "queued-job"}
    assert len(store.list(limit=2)) == 2
    summary = store.list(backend="aer_noisy")[0]
    assert (summary.num_circuits, summary.shots, summary.executor) == (2, 40, "thread")
    assert [s.job_id for s in store_provider.jobs(status="queued")] == ["queued-job"]


def test_newest_first(store_provider: Provider) -> None:
    first = finished_record(store_provider)
    second = finished_record(store_provider)
    store_provider.store.save(second)
    store_provider.store.save(first)
    assert [s.job_id for s in store_provider.store.list()] == [second.job_id, first.job_id]


def test_save_replaces_and_delete_removes(store_provider: Provider) -> None:
    store = store_provider.store
    record = finished_record(store_provider)
    store.save(attrs.evolve(record, status=JobStatus.RUNNING, result=None))
    store.save(record)
    assert store.load(record.job_id).status is JobStatus.DONE
    assert len(store.list()) == 1
    store.delete(record.job_id)
    with pytest.raises(JobNotFoundError):
        store.load(record.job_id)
    with pytest.raises(JobNotFoundError):
        store.delete(record.job_id)


@pytest.mark.parametrize(
    "bad", ["", "../escape", "a/b", "x" * 129, "a\x00b", "'; DROP TABLE jobs; --", ".hidden"]
)
def test_job_ids_that_could_escape_are_refused(store_provider: Provider, bad: str) -> None:
    with pytest.raises(InvalidJobIdError):
        store_provider.store.load(bad)


def test_files_are_owner_only(tmp_path: Path) -> None:
    file_store = FileStore(tmp_path / "files" / "jobs")
    sqlite_store = SqliteStore(tmp_path / "db" / "jobs.sqlite")
    with Provider() as provider:
        record = finished_record(provider)
    location = file_store.save(record)
    sqlite_store.save(record)
    assert stat.S_IMODE(Path(location).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "files" / "jobs").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "db").stat().st_mode) == 0o700
    for path in (tmp_path / "db").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    sqlite_store.close()


def test_sqlite_is_in_wal_mode_with_indexes(tmp_path: Path) -> None:
    import sqlite3

    SqliteStore(tmp_path / "jobs.sqlite").close()
    db = sqlite3.connect(tmp_path / "jobs.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {row[1] for row in db.execute("PRAGMA index_list(jobs)")}
    assert {"jobs_status_listing", "jobs_backend_listing", "jobs_created"} <= indexes
    plan = " ".join(
        str(row)
        for row in db.execute(
            "EXPLAIN QUERY PLAN "
            "SELECT job_id, status, backend, executor, created_at, num_circuits, shots, tags "
            "FROM jobs WHERE status = ? ORDER BY created_at DESC",
            ("DONE",),
        )
    )
    assert "COVERING INDEX jobs_status_listing" in plan
    db.close()


def test_store_path_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="not a directory"):
        FileStore(blocker)
    with pytest.raises(StoreError, match="not a directory"):
        SqliteStore(blocker / "jobs.sqlite")


def test_default_store_lives_in_the_user_data_dir(qdispatch_home: Path) -> None:
    with Provider() as provider:
        assert provider.store_name == "sqlite"
        assert Path(provider.store.path).is_relative_to(qdispatch_home / "data")  # type: ignore[attr-defined]
