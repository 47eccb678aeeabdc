"""The installed version of qdispatch, read once."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache
def qdispatch_version() -> str:
    """Return the installed distribution version of qdispatch."""
    try:
        return version("qdispatch")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"
