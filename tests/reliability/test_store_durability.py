"""Durability: a process persisting jobs is SIGKILLed at random moments; nothing it persisted is lost."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
import warnings
from collections import defaultdict
from pathlib import Path

import pytest
from qiskit.providers import JobStatus

from qdispatch import Provider
from qdispatch.stores.file import FileStore
from qdispatch.stores.sqlite import SqliteStore
from qdispatch.testing import x_circuit

KILLS = 20
CIRCUITS = 6  # as in helpers/persist_and_die.py
SHOTS = 32


def expected_circuits(job_id: str) -> list[object]:
    """The circuits the helper ran as job ``r<round>-<i>``."""
    i = int(job_id.split("-")[1])
    circuits = []
    for j in range(CIRCUITS):
        circuit = x_circuit(4, (i + j) % 5)
        circuit.name = f"c{j}"
        circuits.append(circuit)
    return circuits


def expected_counts(job_id: str) -> list[dict[str, int]]:
    """The counts each circuit of job ``job_id`` must give."""
    i = int(job_id.split("-")[1])
    return [{"0" * (4 - (i + j) % 5) + "1" * ((i + j) % 5): SHOTS} for j in range(CIRCUITS)]


def parse_log(log: Path) -> tuple[set[str], set[str], int]:
    """Return the ids persisted at least once, those persisted finished, and kills inside persist()."""
    persisted: set[str] = set()
    finished: set[str] = set()
    last_line: dict[str, str] = {}
    by_round: defaultdict[str, list[str]] = defaultdict(list)
    for line in log.read_text().splitlines():
        kind, job_id, number = line.split()
        by_round[job_id.split("-")[0]].append(kind)
        last_line[job_id.split("-")[0]] = kind
        if kind == "P":
            persisted.add(job_id)
            if number == "2":
                finished.add(job_id)
    inside_persist = sum(1 for kind in last_line.values() if kind == "S")
    return persisted, finished, inside_persist


@pytest.mark.slow
@pytest.mark.parametrize("store_name", ["file", "sqlite"])
def test_sigkill_while_persisting_loses_nothing(store_name: str, tmp_path: Path, tools, faults) -> None:
    path = tmp_path / ("jobs" if store_name == "file" else "jobs.sqlite")
    log = tmp_path / "persisted.log"
    seed = 1000 + len(store_name)
    completed = subprocess.run(
        tools.helper("persist_and_die.py", store_name, path, log, KILLS, seed),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout.splitlines()[-1])
    assert summary["child_failures"] == [], completed.stderr
    assert summary["kills"] == KILLS
    persisted, finished, inside_persist = parse_log(log)
    assert len(finished) >= KILLS // 2, "the children should have finished jobs between kills"

    # The store opens cleanly and lists every record without skipping a damaged one.
    store: FileStore | SqliteStore
    if store_name == "sqlite":
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        store = SqliteStore(path)
    else:
        store = FileStore(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        listed = {s.job_id: s for s in store.list()}
    assert [str(w.message) for w in caught] == []
    assert persisted <= set(listed), f"lost: {sorted(persisted - set(listed))[:5]}"

    # Every record, logged or not (a kill may land after the write, before the log line), is whole.
    for job_id in listed:
        record = store.load(job_id)
        assert list(record.circuits) == expected_circuits(job_id)
        assert record.shots == SHOTS and record.tags == (f"round-{int(job_id[1:3])}",)
        if job_id in finished:
            assert record.status is JobStatus.DONE
        if record.status is JobStatus.DONE:
            assert record.result is not None
            assert [record.result.get_counts(i) for i in range(CIRCUITS)] == expected_counts(job_id)

    # Restoring in a new provider gives the same job back, finished jobs without running again.
    with Provider(store=store_name, store_options={"path": str(path)}) as provider:
        for job_id in sorted(finished):
            job = provider.job(job_id)
            assert job.status() is JobStatus.DONE and not job.resubmitted
            assert [job.result().get_counts(i) for i in range(CIRCUITS)] == expected_counts(job_id)
        unfinished = sorted(j for j, s in listed.items() if s.status is not JobStatus.DONE)
        for job_id in unfinished[:2]:
            with pytest.warns(RuntimeWarning, match="submitted again"):
                job = provider.job(job_id)
            assert job.resubmitted
            assert [job.result(timeout=60).get_counts(i) for i in range(CIRCUITS)] == expected_counts(job_id)

        # The next writes succeed.
        job = provider.get_backend("aer").run(expected_circuits("next-3"), shots=SHOTS, job_id="next-3")
        job.result(timeout=60)
        job.persist()
        assert provider.store.load("next-3").status is JobStatus.DONE

    leftovers = 0
    if store_name == "file":
        # A writer killed mid-save leaves at most a hidden temporary file, never a partial record;
        # once stale, the next store to open removes it.
        temporaries = list(path.glob(".*.tmp"))
        leftovers = len(temporaries)
        for temporary in temporaries:
            os.utime(temporary, (time.time() - 7200, time.time() - 7200))
        FileStore(path)
        assert list(path.glob(".*.tmp")) == []
        assert not any(p.name.endswith(".json") and p.stat().st_size == 0 for p in path.iterdir())

    faults.record(
        "store durability",
        f"SIGKILL of a process persisting jobs continuously ({store_name} store), at random moments",
        summary["kills"],
        f"{inside_persist} kills landed inside persist(); all {len(persisted)} jobs whose persist() "
        f"had returned are listed and load intact ({len(finished)} finished ones restore with their "
        f"result, no re-run); {len(listed)} records in all, none damaged"
        + (
            f"; {leftovers} temporary files left by killed writers, never listed, removed once stale"
            if store_name == "file"
            else "; PRAGMA integrity_check ok"
        )
        + "; the store reopens and the next write succeeds",
    )
