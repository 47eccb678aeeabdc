"""The benchmarks still run: ``python -m bench --tiny --no-peer`` writes every result and the page.

This is a smoke test, not a timed one: no figure is checked against a
target, only that each script runs end to end on the smallest sizes and
writes JSON in the layout ``bench/report.py`` reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ("batch_overhead", "small_jobs", "many_tasks", "parallel_speedup", "persistence", "startup")
RESULT_KEYS = {
    "schema",
    "benchmark",
    "title",
    "description",
    "quick",
    "environment",
    "load_average",
    "parameters",
    "cases",
}
CASE_KEYS = {"name", "params", "unit", "measures", "ratio", "ratio_of", "target", "met", "note"}
STATS_KEYS = {"median", "min", "max", "n"}


@pytest.mark.slow
def test_python_m_bench_tiny_writes_every_result(tmp_path: Path) -> None:
    results = tmp_path / "results"
    page = tmp_path / "performance.md"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--tiny",
            "--no-peer",
            "--results",
            str(results),
            "--docs",
            str(page),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = page.read_text(encoding="utf-8")
    for name in BENCHMARKS:
        data = json.loads((results / f"{name}.json").read_text(encoding="utf-8"))
        assert set(data) >= RESULT_KEYS, f"{name}: missing {RESULT_KEYS - set(data)}"
        assert data["benchmark"] == name and data["quick"] is True
        assert data["cases"], name
        for case in data["cases"]:
            assert set(case) >= CASE_KEYS, f"{name}: case missing {CASE_KEYS - set(case)}"
            for stats in case["measures"].values():
                assert set(stats) == STATS_KEYS and stats["n"] >= 1
        assert data["title"] in text
    targeted = [
        c
        for name in BENCHMARKS
        for c in json.loads((results / f"{name}.json").read_text())["cases"]
        if c["target"]
    ]
    assert targeted and all(c["target"]["op"] in ("<=", ">=") for c in targeted)
    assert "## Targets" in text and "do not edit by hand" in text
