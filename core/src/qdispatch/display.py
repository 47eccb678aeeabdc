"""Tables on the terminal (rich when it is a terminal, plain text otherwise)."""

from __future__ import annotations

import html
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qdispatch.job import Job


def print_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]], title: str) -> None:
    """Print ``rows`` under ``columns``; coloured only when stdout is a terminal."""
    if not rows:
        print(f"no {title}")
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(no_color=not sys.stdout.isatty(), width=None if sys.stdout.isatty() else 200)
    table = Table(*columns, title=title if sys.stdout.isatty() else None)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    console.print(table)


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
