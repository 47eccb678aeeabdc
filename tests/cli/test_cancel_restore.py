"""``qdispatch cancel ID`` and ``qdispatch restore ID`` on stored jobs."""

from __future__ import annotations

import json
from typing import Any


def test_cancel_an_unfinished_job_so_it_never_runs(qd: Any, stored: Any) -> None:
    completed = qd("cancel", stored.queued)
    assert completed.stdout.strip() == "job queued-job cancelled; it will not run again"
    assert json.loads(qd.main("job", stored.queued, "--json")[0])["status"] == "CANCELLED"
    out, err = qd.main("restore", stored.queued, "--json", expect=1)
    assert json.loads(out)["status"] == "CANCELLED"
    assert err.strip() == "error: job queued-job ended CANCELLED"
    _, err = qd.main("cancel", stored.queued, expect=1)
    assert err.strip() == "error: job queued-job already ended CANCELLED; nothing to cancel"


def test_cancel_json_and_finished_jobs(qd: Any, stored: Any) -> None:
    out, _ = qd.main("cancel", stored.queued, "--json")
    assert json.loads(out) == {"job_id": "queued-job", "cancelled": True, "status": "CANCELLED"}
    _, err = qd.main("cancel", stored.done, expect=1)
    assert err.strip() == "error: job bell-job already ended DONE; nothing to cancel"
    missing = qd("cancel", "nope", expect=1)
    assert qd.errors(missing.stderr)[0].startswith("error: job 'nope' not found")


def test_restore_runs_an_unfinished_job_and_stores_its_result(qd: Any, stored: Any) -> None:
    completed = qd("restore", stored.queued, "--json", "--progress")
    assert "warning: job 'queued-job' was QUEUED when persisted; it has been submitted again" in completed.stderr
    assert completed.stderr.splitlines()[-1] == "progress: 4/4 circuits (DONE)"
    data = json.loads(completed.stdout)
    assert (data["status"], data["progress"], data["tags"]) == ("DONE", [4, 4], ["queued"])
    assert data["counts"][:3] == stored.many_counts[:3]  # deterministic circuits
    shown = json.loads(qd.main("job", stored.queued, "--json")[0])
    assert shown["status"] == "DONE" and shown["counts"] == data["counts"]


def test_restore_of_a_finished_job_does_not_run_it(qd: Any, stored: Any) -> None:
    out, err = qd.main("restore", stored.done)
    assert "warning" not in err
    text = dict(line.split(": ", 1) for line in out.splitlines())
    assert text["status"] == "DONE" and eval(text["counts"], {}) == stored.counts
    assert qd.main("restore", "nope", expect=1)[1].startswith("error: job 'nope' not found")
