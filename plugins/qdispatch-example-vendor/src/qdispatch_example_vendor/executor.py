"""The ``example_serial`` executor: one thread, tasks run one at a time, in order.

A real device runs one job at a time from a queue; this executor does the
same with the tasks it is given. It shows the whole executor contract:

* ``submit(task)`` returns a ``concurrent.futures.Future`` at once;
* the future is marked running when the task starts, and a task whose
  future was cancelled while queued is skipped (``set_running_or_notify_cancel``);
* the task's result (or the exception it raised) goes into its future;
* ``shutdown(wait)`` stops accepting tasks, cancels queued ones unless
  ``wait``, and returns once the running task ended if ``wait``.

The optional ``cancel(future)`` method is left out: a simulation running in
a thread cannot be stopped, and ``Job.cancel()`` must tell the truth.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from qdispatch.errors import ExecutorError

if TYPE_CHECKING:
    from qiskit.result import Result

    from qdispatch import Task

_STOP = object()


class SerialExecutor:
    """Runs tasks on one worker thread, in the order they were submitted."""

    max_workers = 1
    """How many tasks run at once (read by ``qdispatch check-plugin``)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, task: Task) -> Future[Result]:
        """Queue ``task`` behind the tasks already submitted; return its future."""
        future: Future[Result] = Future()
        with self._lock:
            if self._closed:
                raise ExecutorError("the example_serial executor was shut down; create a new Provider")
            if self._thread is None:
                # Started on first use, so that building the executor is free. A
                # daemon thread never keeps the interpreter alive at exit.
                self._thread = threading.Thread(target=self._work, name="example-serial", daemon=True)
                self._thread.start()
            self._queue.put((task, future))
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            task, future = item
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while it waited in the queue
            try:
                result = task.run()
            except BaseException as exc:  # report every failure through the future
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting tasks; without ``wait`` cancel the queued ones, with it let them run."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if not wait:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                item[1].cancel()
        self._queue.put(_STOP)
        if wait and thread is not None:
            thread.join()
