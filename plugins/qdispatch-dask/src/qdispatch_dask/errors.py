"""The errors the ``dask`` executor puts on a job or raises at submission."""

from __future__ import annotations

from qdispatch.errors import ExecutorError, QDispatchError


class DaskSchedulerError(ExecutorError):
    """The Dask scheduler cannot be reached, or the connection to it was lost.

    :param address: the scheduler's address, e.g. ``tcp://10.0.0.5:8786``.
    :param message: what happened, naming the address.
    """

    def __init__(self, address: str, message: str) -> None:
        self.address = address
        super().__init__(message)


class DaskTaskError(QDispatchError):
    """A task raised an exception while running on a Dask worker.

    :param message: the task, the worker and the original error.
    :param worker: the worker's address.
    :param remote_type: the name of the exception class raised on the worker.
    """

    def __init__(self, message: str, *, worker: str, remote_type: str) -> None:
        self.worker = worker
        self.remote_type = remote_type
        super().__init__(message)
