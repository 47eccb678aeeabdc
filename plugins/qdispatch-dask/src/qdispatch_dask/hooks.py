"""Hook implementations of the qdispatch-dask plugin; Dask is imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qdispatch import hookimpl

if TYPE_CHECKING:
    from qdispatch.plugins import Register


@hookimpl
def register_executors(register: Register) -> None:
    """Register the ``dask`` executor (its options are ``DaskExecutor``'s keyword arguments)."""
    register("dask", "qdispatch_dask.executor:DaskExecutor")
