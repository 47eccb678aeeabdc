"""Shared helpers of the benchmarks: interleaved rounds, statistics, tables, JSON results.

Every figure is a ratio against the raw tool measured side by side in the
same run: each round runs every variant once (the order rotating from round
to round, so drift and warm caches favour no one), a ratio is taken per round,
and the median of those ratios is the figure. Median, min and max are reported.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
"""The repository root (only used at run time, never written out)."""

RESULTS = Path(__file__).resolve().parent / "results"
"""Where each benchmark writes ``<name>.json``."""

SCHEMA = 1
"""The version of the result JSON layout (see ``bench/README.md``)."""


def stats(values: Sequence[float]) -> dict[str, Any]:
    """Return ``{"median", "min", "max", "n"}`` of ``values`` (``None`` figures if empty)."""
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def rotate(items: Sequence[str], round_index: int) -> list[str]:
    """Return ``items`` rotated by ``round_index`` (the order of one interleaved round)."""
    k = round_index % len(items)
    return [*items[k:], *items[:k]]


def interleave(
    rounds: int,
    variants: Mapping[str, Callable[[int], float]],
    *,
    on_round: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, list[float]]:
    """Run every variant once per round, rotating the order; return each variant's times.

    :param variants: name -> ``measure(round_index)`` returning seconds (or any figure).
    :param on_round: called after each round with that round's figures.
    """
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(rounds):
        figures: dict[str, float] = {}
        for name in rotate(names, r):
            figures[name] = variants[name](r)
            times[name].append(figures[name])
        if on_round is not None:
            on_round(r, figures)
    return times


def ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Return the per-round ratios ``numerator[i] / denominator[i]``."""
    return [a / b for a, b in zip(numerator, denominator, strict=True)]


def check(value: float | None, op: str, target: float) -> bool | None:
    """Return whether ``value`` meets ``op target`` (``<=`` or ``>=``), ``None`` if unmeasured."""
    if value is None:
        return None
    return value <= target if op == "<=" else value >= target


def case(
    name: str,
    *,
    measures: Mapping[str, Sequence[float]],
    unit: str = "s",
    ratio: Sequence[float] | None = None,
    ratio_of: str | None = None,
    target: tuple[str, float] | None = None,
    target_on: str = "ratio",
    params: Mapping[str, Any] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Build one case of a result: per-variant statistics, the ratio and the target check.

    :param measures: variant name -> per-round figures.
    :param ratio: per-round ratios (the figure the target usually applies to).
    :param ratio_of: how the ratio is defined, in words (``"qdispatch / raw Aer"``).
    :param target: ``(op, value)``, e.g. ``("<=", 1.05)``.
    :param target_on: ``"ratio"`` or the name of a measure whose median the target bounds.
    """
    out: dict[str, Any] = {
        "name": name,
        "params": dict(params or {}),
        "unit": unit,
        "measures": {k: stats(v) for k, v in measures.items()},
        "ratio": stats(ratio) if ratio is not None else None,
        "ratio_of": ratio_of,
        "target": None,
        "met": None,
        "note": note,
    }
    if target is not None:
        op, value = target
        figure = (
            out["ratio"]["median"]
            if target_on == "ratio" and out["ratio"]
            else (out["measures"].get(target_on, {}).get("median"))
        )
        out["target"] = {"op": op, "value": value, "on": target_on}
        out["met"] = check(figure, op, value)
    return out


def package_version(name: str) -> str | None:
    """Return the installed version of distribution ``name``, or ``None``."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    """Return the 1, 5 and 15 minute load averages (``None`` where unavailable)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def environment() -> dict[str, Any]:
    """Describe where the benchmark ran (no paths, no host names)."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": platform.system(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "qiskit": package_version("qiskit"),
        "qiskit-aer": package_version("qiskit-aer"),
        "qdispatch": package_version("qdispatch"),
        "qdispatch-aer": package_version("qdispatch-aer"),
    }


def result(
    name: str,
    title: str,
    *,
    description: str,
    quick: bool,
    parameters: Mapping[str, Any],
    cases: Sequence[Mapping[str, Any]],
    load_before: list[float] | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the JSON document a benchmark writes."""
    return {
        "schema": SCHEMA,
        "benchmark": name,
        "title": title,
        "description": description,
        "quick": quick,
        "finished_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "environment": environment(),
        "load_average": {"before": load_before, "after": load_average()},
        "parameters": dict(parameters),
        "cases": list(cases),
        **dict(extra or {}),
    }


def write_result(data: Mapping[str, Any], directory: Path | None = None) -> Path:
    """Write ``data`` to ``<directory>/<benchmark>.json`` atomically; return the path."""
    directory = directory or RESULTS
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{data['benchmark']}.json"
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{data['benchmark']}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=False)
        handle.write("\n")
    os.replace(temporary, target)
    return target


def fmt(value: float | None, unit: str) -> str:
    """Format a figure for a table: seconds as ms or s, ratios with two decimals."""
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.3f} ms" if value < 1 else f"{value:.2f} ms"
    if unit == "jobs/s":
        return f"{value:,.0f} jobs/s"
    return f"{value:.3g} {unit}".strip()


def table(data: Mapping[str, Any]) -> str:
    """Render a result as a plain-text table (what each script prints)."""
    lines = [f"== {data['title']}" + (" (quick)" if data.get("quick") else "")]
    for c in data["cases"]:
        unit = c["unit"]
        lines.append(f"-- {c['name']}")
        for variant, s in c["measures"].items():
            lines.append(
                f"   {variant:<34} median {fmt(s['median'], unit):>14}  "
                f"min {fmt(s['min'], unit):>14}  max {fmt(s['max'], unit):>14}  (n={s['n']})"
            )
        if c.get("ratio"):
            r = c["ratio"]
            figure = (
                "n/a"
                if r["median"] is None
                else (f"{r['median']:.3f} (min {r['min']:.3f}, max {r['max']:.3f})")
            )
            lines.append(f"   ratio {c.get('ratio_of') or ''}: {figure}")
        if c.get("target"):
            t = c["target"]
            verdict = {True: "met", False: "MISSED", None: "not measured"}[c["met"]]
            lines.append(f"   target {t['on']} {t['op']} {t['value']}: {verdict}")
        if c.get("note"):
            lines.append(f"   note: {c['note']}")
    load = data.get("load_average", {})
    lines.append(f"   load average before {load.get('before')}, after {load.get('after')}")
    return "\n".join(lines)


def finish(data: Mapping[str, Any], directory: Path | None = None) -> Path:
    """Print the table of ``data`` and write its JSON; return the JSON path."""
    print(table(data), flush=True)
    path = write_result(data, directory)
    with contextlib.suppress(ValueError):
        print(f"   wrote {path.relative_to(REPO)}", flush=True)
    return path


def parser(description: str) -> argparse.ArgumentParser:
    """Return the command-line parser every benchmark script shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small sizes and few rounds (a smoke run)")
    p.add_argument("--tiny", action="store_true", help="the smallest sizes (the smoke test)")
    p.add_argument("--rounds", type=int, default=None, help="override the number of rounds")
    p.add_argument("--no-peer", action="store_true", help="skip measurements that need the peer's venv")
    p.add_argument(
        "--results", type=Path, default=None, help="directory for the JSON (default bench/results)"
    )
    return p


@contextlib.contextmanager
def isolated_config() -> Iterator[Path]:
    """Point ``QDISPATCH_CONFIG`` at an empty file in a temporary directory.

    A user's configuration (a different default executor, autosave) must not
    change what a benchmark measures; subprocesses inherit the setting.
    """
    old = os.environ.get("QDISPATCH_CONFIG")
    with tempfile.TemporaryDirectory(prefix="qdispatch-bench-") as directory:
        path = Path(directory) / "config.toml"
        path.write_text("", encoding="utf-8")
        os.environ["QDISPATCH_CONFIG"] = str(path)
        try:
            yield Path(directory)
        finally:
            if old is None:
                os.environ.pop("QDISPATCH_CONFIG", None)
            else:
                os.environ["QDISPATCH_CONFIG"] = old


def progress(message: str) -> None:
    """Print a progress line to stderr (tables go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


_one_thread_simulator: Any = None


def one_thread_aer_run(circuit: Any, shots: int) -> Any:
    """Simulate ``circuit`` with a one-thread ``AerSimulator``, built once per process.

    The raw side of the parallel benchmarks: run in pool or Dask workers, so it
    must be a module-level function.
    """
    global _one_thread_simulator
    if _one_thread_simulator is None:
        from qiskit_aer import AerSimulator

        _one_thread_simulator = AerSimulator(max_parallel_threads=1)
    return _one_thread_simulator.run(circuit, shots=shots).result()
