"""The ``thread`` executor: tasks run on a pool of threads in this process.

Threads give concurrency (submit returns at once; jobs can be cancelled and
watched) but not speed for Aer, which holds the GIL while it simulates: use the
``process`` or ``dask`` executors to run circuits in parallel.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from qdispatch.errors import ExecutorError
from qdispatch.hookspecs import hookimpl
from qdispatch.validation import positive_int

if TYPE_CHECKING:
    from qiskit.result import Result

    from qdispatch.plugins import Register
    from qdispatch.task import Task


class ThreadExecutor:
    """Runs tasks on a ``concurrent.futures.ThreadPoolExecutor``.

    :param max_workers: the number of threads (default: the number of CPUs, at most 4).
    """

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None:
            positive_int("max_workers", max_workers, owner="executor 'thread'")
        self.max_workers = max_workers or min(4, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="qdispatch")
        self._closed = False

    def submit(self, task: Task) -> Future[Result]:
        """Queue ``task`` on the pool; return its future."""
        if self._closed:
            raise ExecutorError("the thread executor was shut down; create a new Provider")
        return self._pool.submit(task.run)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the pool; queued tasks are cancelled, running ones finish (waited for if ``wait``)."""
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)


@hookimpl
def register_executors(register: Register) -> None:
    """Register the ``thread`` executor."""
    register("thread", ThreadExecutor)
