"""Hook implementations of the qdispatch-dask plugin; Dask is imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qdispatch import hookimpl
from qdispatch.errors import ConfigurationError

if TYPE_CHECKING:
    from qdispatch.plugins import Register
    from qdispatch_dask.executor import DaskExecutor


@hookimpl
def register_executors(register: Register) -> None:
    """Register the ``dask`` executor."""
    register("dask", _dask)


def _positive_int(name: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigurationError(f"dask executor: {name} must be a positive integer, not {value!r}")


def _dask(
    address: str | None = None,
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    connect_timeout: float = 10.0,
    dashboard_address: str | None = None,
) -> DaskExecutor:
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise ConfigurationError(f"dask executor: address must be a scheduler address like 'tcp://host:8786', not {address!r}")
    _positive_int("n_workers", n_workers)
    _positive_int("threads_per_worker", threads_per_worker)
    if isinstance(connect_timeout, bool) or not isinstance(connect_timeout, int | float) or not connect_timeout > 0:
        raise ConfigurationError(f"dask executor: connect_timeout must be a positive number of seconds, not {connect_timeout!r}")
    if dashboard_address is not None and not isinstance(dashboard_address, str):
        raise ConfigurationError(f"dask executor: dashboard_address must be a string, not {dashboard_address!r}")
    local_only = [n for n, v in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker),
                                 ("dashboard_address", dashboard_address)) if v is not None]
    if address is not None and local_only:
        raise ConfigurationError(
            f"dask executor: {', '.join(local_only)} only apply to the local cluster started without an "
            f"address; the cluster at {address} has its own workers"
        )

    from qdispatch_dask.executor import DaskExecutor

    return DaskExecutor(
        address.strip() if address is not None else None,
        n_workers=n_workers,
        threads_per_worker=threads_per_worker or 1,
        connect_timeout=float(connect_timeout),
        dashboard_address=dashboard_address,
    )
