"""``qdispatch run``: circuits from OpenQASM files, as one job, with progress."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

QASM3_X = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nbit[1] c;\nx q[0];\nc[0] = measure q[0];\n'


def test_run_prints_the_job_and_its_counts_and_stores_it(qd: Any) -> None:
    completed = qd("run", qd.bell, "--shots", "200", "--tag", "demo", "--job-id", "first-run")
    assert "job first-run submitted to aer on thread" in completed.stderr
    lines = dict(line.split(": ", 1) for line in completed.stdout.splitlines())
    assert (lines["job_id"], lines["status"], lines["progress"]) == ("first-run", "DONE", "1/1 circuits")
    counts = eval(lines["counts"], {})  # a dict literal
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 200
    stored = json.loads(qd.main("jobs", "--json")[0])
    assert [(j["job_id"], j["status"], j["tags"]) for j in stored] == [("first-run", "DONE", ["demo"])]


def test_run_json_with_a_seed_repeats_and_reads_openqasm_3(qd: Any, tmp_path: Path) -> None:
    (tmp_path / "x.qasm").write_text(QASM3_X)
    args = ("run", qd.bell, "x.qasm", "--shots", "100", "--seed", "4", "--json")
    first = json.loads(qd(*args).stdout)
    second = json.loads(qd.main(*args)[0])
    assert first["counts"] == second["counts"]
    assert first["counts"][1] == {"1": 100}
    assert first["progress"] == [2, 2] and first["job_id"] != second["job_id"]


def test_progress_lines_when_asked_outside_a_terminal(qd: Any) -> None:
    completed = qd(
        "run", *[qd.bell] * 12, "--shots", "2000", "--max-circuits-per-task", "1", "--progress", "--json"
    )
    lines = [line for line in completed.stderr.splitlines() if line.startswith("progress:")]
    parsed = [tuple(map(int, re.match(r"progress: (\d+)/(\d+) circuits", line).groups())) for line in lines]  # type: ignore[union-attr]
    assert parsed and all(total == 12 for _, total in parsed)
    assert [done for done, _ in parsed] == sorted(done for done, _ in parsed)
    assert lines[-1] == "progress: 12/12 circuits (DONE)"
    assert json.loads(completed.stdout)["progress"] == [12, 12]
    assert "progress:" not in qd.main("run", qd.bell, "--shots", "10")[1]  # not asked, not a terminal


def test_progress_bar_and_colours_on_a_terminal(qd: Any) -> None:
    status, output = qd.tty("run", *[qd.bell] * 8, "--shots", "500", "--max-circuits-per-task", "1")
    assert status == 0, output
    assert re.search(r"8/8\s*(\x1b\[[0-9;]*m)*\s*circuits", output), output
    assert re.search(r"\x1b\[32mDONE", output)


def test_user_errors_are_one_line(qd: Any, tmp_path: Path) -> None:
    missing = qd("run", "missing.qasm", expect=1)
    assert qd.errors(missing.stderr) == ["error: no such circuit file: missing.qasm"]
    usage = qd("run", "--shots", "many", qd.bell, expect=2)
    assert qd.errors(usage.stderr) == [
        "error: argument --shots: invalid int value: 'many' (see 'qdispatch run --help')"
    ]
    (tmp_path / "bad.qasm").write_text("OPENQASM 2.0;\nqreg q[1];\nfoo q[0];\n")
    cases = [
        (("run", "bad.qasm"), "error: bad.qasm is not a valid OpenQASM program"),
        (("run", qd.bell, "--backend", "nope"), "error: unknown backend 'nope'; available: aer, aer_noisy"),
        (("run", qd.bell, "--shots", "0"), "error: shots must be at least 1, not 0"),
        (("run", qd.bell, "--executor", "nope"), "error: unknown executor 'nope'"),
        (("run", qd.bell, "--job-id", "../escape"), "error: invalid job id '../escape'"),
    ]
    for args, message in cases:
        _, err = qd.main(*args, expect=1)
        assert len(qd.errors(err)) == 1 and err.startswith(message), (args, err)


def test_a_timeout_cancels_the_job_and_stores_it(qd: Any) -> None:
    completed = qd(
        "run",
        *[qd.bell] * 30,
        "--shots",
        "100000",
        "--max-circuits-per-task",
        "1",
        "--timeout",
        "0.01",
        "--job-id",
        "too-slow",
        expect=1,
    )
    assert (
        qd.errors(completed.stderr)[-1]
        == "error: job too-slow did not finish within 0.01 s; it ended CANCELLED"
    )
    stored = json.loads(qd.main("jobs", "--status", "CANCELLED", "--json")[0])
    assert [j["job_id"] for j in stored] == ["too-slow"]
