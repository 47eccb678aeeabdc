"""What runs on a Dask worker: one qdispatch task, announced, guarded against cancellation, annotated.

Workers import this module when they unpickle a task, so it stays small:
``qdispatch``, ``qdispatch-dask`` and the backend's plugin (``qdispatch-aer``)
must be installed on every worker.

Starting and cancelling meet on the scheduler, whose metadata store handles one
request at a time: a worker first marks the task started and then looks for a
cancel mark; a client cancelling first sets the cancel mark and then looks for
a start mark. Whichever comes second sees the other's mark, so a task whose
cancellation succeeded never runs, and a task that runs is never reported
cancelled. (A worker's event loop cannot be asked directly: Aer holds the GIL
for a whole simulation.)
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qdispatch.task import Task

WORKER_METADATA_KEY = "dask_worker"
"""The key of each circuit's result metadata that names the worker which ran it."""

Outcome = tuple[str, Any, str]
"""``("ok", Result, worker)``, ``("error", (type name, message, traceback), worker)``
or ``("cancelled", None, worker)``."""


def started_mark(namespace: list[str], key: str) -> list[str]:
    """Return the scheduler metadata path that says task ``key`` started."""
    return [*namespace, "started", key]


def cancelled_mark(namespace: list[str], key: str) -> list[str]:
    """Return the scheduler metadata path that says task ``key`` was cancelled."""
    return [*namespace, "cancelled", key]


def _ask_scheduler(worker: Any, method: str, **kwargs: Any) -> Any:
    """Call the scheduler from a task thread and wait for its answer."""
    from distributed.utils import sync

    return sync(worker.loop, getattr(worker.scheduler, method), **kwargs)


def run_task(task: Task, topic: str, key: str, namespace: list[str]) -> Outcome:
    """Run ``task`` on this worker and return its outcome instead of raising.

    The worker marks the task started on the scheduler and returns
    ``"cancelled"`` at once if the client cancelled it first. Otherwise it
    logs ``{"key": key, "worker": address}`` under ``topic`` (so the
    submitting client learns that the task runs) and runs it. An exception
    raised by the task is returned as text, because qdispatch's errors do not
    all survive a pickling round trip; Dask's own failures (a dying worker)
    still reach the client as Dask errors.
    """
    from distributed import get_worker

    worker = get_worker()
    address = str(worker.address)
    _ask_scheduler(worker, "set_metadata", keys=started_mark(namespace, key), value=address)
    if _ask_scheduler(worker, "get_metadata", keys=cancelled_mark(namespace, key), default=None) is not None:
        return "cancelled", None, address
    _ask_scheduler(worker, "log_event", topic=topic, msg={"key": key, "worker": address})
    try:
        result = task.run()
    except Exception as exc:
        text = "".join(traceback.format_exception(exc)).strip()
        return "error", (type(exc).__name__, str(exc), text), address
    for experiment in result.results:
        metadata = getattr(experiment, "metadata", None)
        if isinstance(metadata, dict):
            metadata[WORKER_METADATA_KEY] = address
    return "ok", result, address
