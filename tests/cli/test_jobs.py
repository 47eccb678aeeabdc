"""``qdispatch jobs`` and ``qdispatch job ID``: listing and showing stored jobs, without running them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_jobs_table_and_filters(qd: Any, stored: Any) -> None:
    table = qd("jobs").stdout
    lines = table.splitlines()
    assert lines[0].split() == [
        "job_id",
        "status",
        "backend",
        "executor",
        "created",
        "circuits",
        "shots",
        "tags",
    ]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["queued-job", "QUEUED"],
        ["many-job", "DONE"],
        ["bell-job", "DONE"],
    ]
    assert "\x1b[" not in table

    def ids(*args: str) -> list[str]:
        return [row["job_id"] for row in json.loads(qd.main("jobs", "--json", *args)[0])]

    assert [row["job_id"] for row in json.loads(qd("jobs", "--json", "--status", "done").stdout)] == [
        "many-job",
        "bell-job",
    ]
    assert ids() == ["queued-job", "many-job", "bell-job"]
    assert ids("--tag", "bell") == ["bell-job"]
    assert ids("--limit", "1") == ["queued-job"]
    assert ids("--backend", "aer_noisy") == []
    row = json.loads(qd.main("jobs", "--json", "--tag", "many")[0])[0]
    assert (row["circuits"], row["shots"], row["tags"], row["executor"]) == (4, 200, ["many"], "thread")
    _, err = qd.main("jobs", "--status", "finished", expect=1)
    assert err.strip() == (
        "error: unknown status 'finished'; "
        "use one of INITIALIZING, QUEUED, VALIDATING, RUNNING, CANCELLED, DONE, ERROR"
    )


def test_jobs_in_an_empty_or_another_store(qd: Any, tmp_path: Path) -> None:
    assert qd.main("jobs")[0].strip() == "no jobs"
    files = tmp_path / "files"
    qd.main("run", qd.bell, "--shots", "10", "--store", "file", "--store-path", files, "--job-id", "in-files")
    assert qd.main("jobs")[0].strip() == "no jobs"
    listed = json.loads(qd("jobs", "--store", "file", "--store-path", files, "--json").stdout)
    assert [row["job_id"] for row in listed] == ["in-files"]


def test_job_shows_a_stored_job(qd: Any, stored: Any) -> None:
    data = json.loads(qd("job", stored.done, "--json").stdout)
    assert (data["status"], data["backend"], data["progress"], data["shots"]) == ("DONE", "aer", [1, 1], 300)
    assert data["counts"] == stored.counts
    assert data["provenance"]["seed"] == 7 and data["provenance"]["simulator"] == "aer_simulator"
    text = dict(line.split(": ", 1) for line in qd.main("job", stored.many)[0].splitlines())
    assert text["status"] == "DONE" and text["progress"] == "4/4 circuits"
    assert [eval(text[f"counts[{i}]"], {}) for i in range(4)] == stored.many_counts


def test_job_does_not_run_an_unfinished_job(qd: Any, stored: Any) -> None:
    for _ in range(2):
        data = json.loads(qd.main("job", stored.queued, "--json")[0])
        assert (data["status"], data["progress"], "counts" in data) == ("QUEUED", [0, 4], False)


def test_job_errors_are_one_line(qd: Any, stored: Any) -> None:
    missing = qd("job", "nope", expect=1)
    assert len(qd.errors(missing.stderr)) == 1
    assert qd.errors(missing.stderr)[0].startswith("error: job 'nope' not found in the sqlite store")
    _, err = qd.main("job", "../../etc/passwd", expect=1)
    assert err.startswith("error: invalid job id '../../etc/passwd'") and len(err.splitlines()) == 1
