"""A throw-away plugin for the command-line hardening tests, installed like the ``faulty`` one.

* executor ``fake_remote``: stands in for a remote service. ``submit`` reports
  the service's job id through ``task.report_state`` at once and never
  finishes; ``resume`` picks such a job up again; ``cancel`` appends the
  remote id to the file ``QDISPATCH_FAKE_CANCEL_LOG`` names.
* a ``job_finished`` hook that blocks for two minutes when
  ``QDISPATCH_FAKE_BLOCK_FINISHED`` is set.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future
from typing import Any

from qdispatch import TaskCancelledError, hookimpl


class FakeRemoteExecutor:
    """Hands tasks to a pretend service that takes them and never answers."""

    def __init__(self) -> None:
        self.states: dict[int, dict[str, Any]] = {}

    def submit(self, task: Any) -> Future[Any]:
        """Report the remote id from another thread (as a poller would) and leave the task running."""
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        state = {"remote_job_id": f"r-{task.job_id}-{task.index}"}
        self.states[id(future)] = state

        def answer() -> None:
            task.report_started()
            task.report_state(state)

        threading.Thread(target=answer, daemon=True).start()
        return future

    def resume(self, task: Any, state: dict[str, Any]) -> Future[Any]:
        """Take up a task the service is still running."""
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        self.states[id(future)] = dict(state)
        return future

    def cancel(self, future: Future[Any]) -> bool:
        """Cancel on the pretend service, and log it."""
        log = os.environ.get("QDISPATCH_FAKE_CANCEL_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as out:
                out.write(f"{self.states[id(future)]['remote_job_id']}\n")
        future.set_exception(TaskCancelledError("cancelled on the service"))
        return True

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to stop: the service keeps its jobs."""


@hookimpl
def register_executors(register: Any) -> None:
    """Register ``fake_remote``."""
    register("fake_remote", FakeRemoteExecutor)


@hookimpl
def job_finished(job: Any) -> None:
    """Block, when asked to, as a plugin stuck on a network call would."""
    if os.environ.get("QDISPATCH_FAKE_BLOCK_FINISHED"):
        time.sleep(120)
