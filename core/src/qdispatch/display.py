"""Tables on the terminal (rich when it is a terminal, plain text otherwise)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any


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
