"""Concurrency: 8 threads and 2 processes write and read one sqlite store at once."""

from __future__ import annotations

import json
import random
import select
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import attrs
import pytest

from qdispatch import StoreError
from qdispatch.records import JobRecord
from qdispatch.serialization import encode_record
from qdispatch.stores.sqlite import SqliteStore

THREADS = 8
PER_THREAD = 150
PROCESSES = 2
PER_PROCESS = 400
TOTAL = THREADS * PER_THREAD + PROCESSES * PER_PROCESS


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """Read one line from ``process``'s stdout, waiting at most ``timeout`` seconds."""
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    assert readable, "the writer process did not start in time"
    return process.stdout.readline().strip()


@pytest.mark.slow
def test_threads_and_processes_share_one_store(tmp_path: Path, done_record: JobRecord, tools, faults) -> None:
    path = tmp_path / "jobs.sqlite"
    template = tmp_path / "template.json"
    template.write_text(encode_record(done_record), encoding="utf-8")
    processes = [
        subprocess.Popen(
            tools.helper("sqlite_writer.py", path, template, f"proc{k}", PER_PROCESS, k),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(PROCESSES)
    ]
    try:
        for process in processes:
            assert read_line(process, 120) == "ready"
        store = SqliteStore(path)
        start = threading.Barrier(THREADS + 1)
        errors: list[str] = []
        reads = [0] * THREADS

        def writer(k: int) -> None:
            rng = random.Random(k)
            saved: list[str] = []
            start.wait(timeout=60)
            for i in range(PER_THREAD):
                job_id = f"thread{k}-{i:05d}"
                try:
                    store.save(attrs.evolve(done_record, job_id=job_id, tags=(f"thread{k}",)))
                    saved.append(job_id)
                    if i % 5 == 0:
                        store.list(limit=20)
                        probe = rng.choice(saved)
                        assert store.load(probe).job_id == probe
                        reads[k] += 2
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(THREADS)]
        for thread in threads:
            thread.start()
        began = time.monotonic()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        start.wait(timeout=60)
        for thread in threads:
            thread.join(timeout=180)
            assert not thread.is_alive(), "a writer thread hung"
        summaries = []
        for process in processes:
            out, err = process.communicate(timeout=180)
            assert process.returncode == 0, err
            summaries.append(json.loads(out.splitlines()[-1]))
        elapsed = time.monotonic() - began
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    process_errors = [e for s in summaries for e in s["errors"]]
    assert errors == [] and process_errors == []
    assert [s["saved"] for s in summaries] == [PER_PROCESS] * PROCESSES

    listed = [s.job_id for s in store.list()]
    expected = {f"thread{k}-{i:05d}" for k in range(THREADS) for i in range(PER_THREAD)}
    expected |= {f"proc{k}-{i:05d}" for k in range(PROCESSES) for i in range(PER_PROCESS)}
    assert len(listed) == len(set(listed)) == TOTAL, "a job was lost or duplicated"
    assert set(listed) == expected
    for job_id in listed:
        record = store.load(job_id)
        assert record.job_id == job_id and record.tags == (job_id.split("-")[0],)
        assert record.circuits == done_record.circuits
    for name in ("thread3", "proc1"):
        assert len(store.list(tag=name)) == (PER_THREAD if name.startswith("thread") else PER_PROCESS)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone() == (TOTAL,)
    store.close()
    total_reads = sum(reads) + sum(s["reads"] for s in summaries)
    faults.record(
        "store concurrency",
        f"{THREADS} threads and {PROCESSES} processes writing and reading one sqlite store at once",
        TOTAL,
        f"{TOTAL} jobs saved and {total_reads} reads in {elapsed:.1f} s; all {TOTAL} listed and loaded, "
        "none lost or duplicated; no error (no 'database is locked') reached a writer; integrity_check ok",
    )


def test_a_store_locked_too_long_gives_a_clear_error_after_a_bounded_wait(
    tmp_path: Path, done_record: JobRecord, faults
) -> None:
    path = tmp_path / "jobs.sqlite"
    store = SqliteStore(path, timeout=0.5)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        began = time.monotonic()
        with pytest.raises(StoreError, match=r"stayed locked by another writer for 0\.5 s") as caught:
            store.save(done_record)
        waited = time.monotonic() - began
        assert 0.4 <= waited < 10
        assert "timeout option" in str(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.save(done_record)  # the same store works once the lock is gone
    assert store.load(done_record.job_id).job_id == done_record.job_id
    store.close()
    faults.record(
        "store concurrency",
        "another connection holding the sqlite database exclusively past the store's timeout",
        1,
        f"StoreError 'stayed locked by another writer for 0.5 s ...' after {waited:.2f} s; "
        "the next save succeeds once the lock is released",
    )
