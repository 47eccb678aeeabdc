"""What runs on a Dask worker: one qdispatch task, reported and annotated.

Workers import this module when they unpickle a task, so it stays small:
``qdispatch``, ``qdispatch-dask`` and the backend's plugin (``qdispatch-aer``)
must be installed on every worker.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qdispatch.task import Task

WORKER_METADATA_KEY = "dask_worker"
"""The key of each circuit's result metadata that names the worker which ran it."""

Outcome = tuple[str, Any, str]
"""``("ok", Result, worker)`` or ``("error", (type name, message, traceback), worker)``."""


def run_task(task: Task, topic: str, key: str) -> Outcome:
    """Run ``task`` on this worker and return its outcome instead of raising.

    Before running, the worker logs ``{"key": key, "worker": address}`` under
    ``topic`` so the submitting client learns that the task started. An
    exception raised by the task is returned as text, because qdispatch's
    errors do not all survive a pickling round trip; Dask's own failures
    (a dying worker) still reach the client as Dask errors.
    """
    from distributed import get_worker

    worker = get_worker()
    address = str(worker.address)
    worker.log_event(topic, {"key": key, "worker": address})
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
