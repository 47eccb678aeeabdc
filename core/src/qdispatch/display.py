"""What the ``qdispatch`` command and Jupyter show: tables, job details, progress, histograms.

On a terminal, tables and progress bars come from rich, with colours; in a
pipe or a file the output is plain aligned text without escape codes. Every
string shown passes through :func:`printable` first, so a tag, a circuit name
or an error message (a remote service's included) can neither move the
cursor nor forge a line. rich and matplotlib are imported only by the
functions that use them, so ``import qdispatch`` stays light.
"""

from __future__ import annotations

import html
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qdispatch.job import Job

ProgressMode = Literal["bar", "lines", "off"]

STATUS_STYLES = {
    "DONE": "green",
    "ERROR": "bold red",
    "CANCELLED": "yellow",
    "RUNNING": "cyan",
    "QUEUED": "blue",
    "INITIALIZING": "dim",
    "VALIDATING": "dim",
    "passed": "green",
    "failed": "bold red",
    "skipped": "dim",
    "ok": "green",
}
"""The colour of a status (or check outcome) in terminal tables."""


_VISIBLE = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROLS = {
    code: _VISIBLE.get(chr(code), f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    for code in (
        *range(0x20),
        *range(0x7F, 0xA0),
        0x2028,
        0x2029,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    )
}
"""Control characters (C0, DEL, C1), Unicode line separators and bidi overrides, each made visible."""


def printable(text: object) -> str:
    """Return ``str(text)`` with every control character shown as an escape (``\\x1b``, ``\\n``).

    Terminal escape sequences then print as text, and a newline inside a
    value cannot start a new row of a table.
    """
    return str(text).translate(_CONTROLS)


def is_terminal(stream: TextIO) -> bool:
    """Return whether ``stream`` is an interactive terminal (colours and bars go there only)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _console(stream: TextIO) -> Any:
    from rich.console import Console

    return Console(file=stream, highlight=False, no_color="NO_COLOR" in os.environ)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return printable(", ".join(map(str, value))) or "-"
    return printable(value)


def print_table(
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    title: str,
    stream: TextIO | None = None,
) -> None:
    """Print ``rows`` under ``columns``: a rich table on a terminal, aligned plain text elsewhere.

    A value of a column named ``status`` or ``outcome`` is coloured on a
    terminal (``FAILED: ...`` counts as ``failed``).
    """
    stream = stream if stream is not None else sys.stdout
    if not rows:
        print(f"no {title}", file=stream)
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    if not is_terminal(stream):
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        for line in (list(columns), *cells):
            print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip(), file=stream)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(printable(title)), title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for line in cells:
        styled = []
        for column, value in zip(columns, line, strict=True):
            key = "failed" if value.startswith("FAILED") else value
            style = STATUS_STYLES.get(key, "") if column in ("status", "outcome") else ""
            styled.append(Text(value, style=style))
        table.add_row(*styled)
    _console(stream).print(table)


def print_details(data: Mapping[str, Any], stream: TextIO | None = None) -> None:
    """Print ``key: value`` lines (a two-column table on a terminal)."""
    stream = stream if stream is not None else sys.stdout
    if not is_terminal(stream):
        for key, value in data.items():
            print(f"{printable(key)}: {_cell(value)}", file=stream)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in data.items():
        text = _cell(value)
        table.add_row(
            Text(printable(key)), Text(text, style=STATUS_STYLES.get(text, "") if key == "status" else "")
        )
    _console(stream).print(table)


def follow_progress(
    job: Job, mode: ProgressMode, timeout: float | None = None, stream: TextIO | None = None
) -> None:
    """Wait until ``job`` reaches a final state, showing ``job.progress()`` as it moves.

    :param mode: ``bar`` (a rich progress bar), ``lines`` (a plain line each
        time the count or status changes) or ``off``.
    :param timeout: seconds to wait; ``JobTimeoutError`` after that.
    :param stream: where progress goes (default: standard error).
    """
    stream = stream if stream is not None else sys.stderr
    if mode == "off":
        job.wait_for_final_state(timeout=timeout, wait=0.2)
        return
    if mode == "lines":
        last: list[tuple[int, int, str]] = []

        def line(_job_id: str, status: Any, current: Job) -> None:
            progress = current.progress()
            state = (progress.finished_count, progress.total_count, status.name)
            if not last or last[-1] != state:
                last.append(state)
                print(
                    f"progress: {state[0]}/{state[1]} circuits ({printable(state[2])})",
                    file=stream,
                    flush=True,
                )

        try:
            job.wait_for_final_state(timeout=timeout, wait=0.1, callback=line)
        finally:
            line(job.job_id(), job.status(), job)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total = job.progress().total_count
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("circuits"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_console(stream), transient=False) as bar:
        task = bar.add_task(printable(f"job {job.job_id()[:12]}"), total=total)

        def update(_job_id: str, status: Any, current: Job) -> None:
            description = printable(f"job {_job_id[:12]} {status.name}")
            bar.update(task, completed=current.progress().finished_count, description=description)

        try:
            job.wait_for_final_state(timeout=timeout, wait=0.1, callback=update)
        finally:
            update(job.job_id(), job.status(), job)


def histogram_figure(
    counts: Mapping[str, int] | Sequence[Mapping[str, int]], title: str | None = None
) -> Figure:
    """Return Qiskit's ``plot_histogram`` of ``counts`` (one dict per circuit), drawn with Agg."""
    import matplotlib

    matplotlib.use("Agg")
    from qiskit.visualization import plot_histogram

    series = [dict(counts)] if isinstance(counts, Mapping) else [dict(c) for c in counts]
    if len(series) == 1:
        figure: Figure = plot_histogram(series[0], title=title)
    else:
        figure = plot_histogram(series, legend=[f"circuit {i}" for i in range(len(series))], title=title)
    return figure


def histogram_bars(figure: Figure) -> list[dict[str, int]]:
    """Read back the bars a ``plot_histogram`` figure shows: one ``{bitstring: height}`` per circuit.

    ``plot_histogram`` centres the bar of series ``s`` for label ``i`` at
    ``i + s * width`` with ``width = 1 / (series + 1)``, and draws no bar for a
    zero count.
    """
    axes = figure.axes[0]
    labels = [label.get_text() for label in axes.get_xticklabels()]
    patches: list[Any] = [patch for container in axes.containers for patch in container]
    if not patches:
        return []
    width = patches[0].get_width()
    bars: list[dict[str, int]] = [{} for _ in range(max(1, round(1 / width) - 1))]
    for patch in patches:
        centre = patch.get_x() + patch.get_width() / 2
        index = math.floor(centre + 1e-9)
        bars[round((centre - index) / width)][labels[index]] = round(patch.get_height())
    return bars


def write_histogram(
    counts: Mapping[str, int] | Sequence[Mapping[str, int]],
    path: str | os.PathLike[str],
    title: str | None = None,
) -> list[dict[str, int]]:
    """Save a histogram of ``counts`` to ``path`` (format from its suffix); return the bars drawn."""
    figure = histogram_figure(counts, title)
    try:
        figure.savefig(Path(path), bbox_inches="tight")
        return histogram_bars(figure)
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)


def job_html(job: Job) -> str:
    """Return an HTML table of ``job``'s status, progress, backend and executor (for Jupyter)."""
    progress = job.progress()
    percent = 100 * progress.finished_count // max(progress.total_count, 1)
    rows = {
        "job id": job.job_id(),
        "status": job.status().name,
        "progress": f"{progress.finished_count} / {progress.total_count} circuits ({percent}%)",
        "backend": job.backend().name,
        "executor": job.executor_name,
    }
    if job.error_message:
        rows["error"] = job.error_message
    cells = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in rows.items()
    )
    bar = (
        f"<progress value='{progress.finished_count}' max='{max(progress.total_count, 1)}'>"
        f"{percent}%</progress>"
    )
    return f"<div class='qdispatch-job'><table>{cells}</table>{bar}</div>"


def choose_progress(requested: bool | None, stream: TextIO) -> ProgressMode:
    """Return the progress mode: a bar on a terminal; plain lines if asked for elsewhere."""
    if requested is False:
        return "off"
    if is_terminal(stream):
        return "bar"
    return "lines" if requested else "off"
