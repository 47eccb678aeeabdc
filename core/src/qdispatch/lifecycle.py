"""A job's life as a state machine: its tasks' futures, its status, progress and outcome.

It knows neither pluggy nor the provider. Whatever changes is reported as a
list of events to the callback it was given, in the order it happened (the
callback is called under the machine's lock, so it must only hand the events
on, never block). Every change costs constant time, so a job of many tasks
costs time linear in its tasks.
"""

from __future__ import annotations

import concurrent.futures
import functools
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
from qiskit.providers import JobStatus

from qdispatch.errors import JobStateError
from qdispatch.records import utcnow
from qdispatch.results import future_outcome, merge_results

if TYPE_CHECKING:
    from qiskit.result import Result

    from qdispatch.circuits import CircuitBatch

Event = tuple[str, dict[str, Any]]
"""One change: a lifecycle hook's name (``job_status_changed``, ...) and its arguments."""

EventSink = Callable[[list[Event]], None]
"""Receives the events of one change, in order; called with the machine's lock held."""

Submitter = Callable[[int, "dict[str, Any] | None"], "concurrent.futures.Future[Result]"]
"""Hands task ``index`` to an executor (resuming it from a state, if given); returns its future."""


@attrs.frozen
class Progress:
    """How many circuits of a job have finished, out of how many."""

    finished_count: int
    total_count: int


def split(total: int, per_task: int) -> list[tuple[int, int]]:
    """Return ``(start, stop)`` ranges of at most ``per_task`` circuits covering ``total``."""
    return [(start, min(start + per_task, total)) for start in range(0, total, per_task)]


def _drop(events: list[Event]) -> None:
    """The receiver of a finished job's events: nothing more is reported."""


class _Chunk:
    """One task of the job: circuits ``[start:stop]``, its future and what it reported."""

    __slots__ = ("finished_count", "future", "outcome", "start", "started", "state", "stop")

    def __init__(self, start: int, stop: int) -> None:
        self.start = start
        self.stop = stop
        self.future: concurrent.futures.Future[Result] | None = None
        self.started = False
        self.finished_count = 0
        self.state: dict[str, Any] = {}
        self.outcome: tuple[str, Any] | None = None

    @property
    def size(self) -> int:
        return self.stop - self.start


class JobLifecycle:
    """The states a job goes through, from INITIALIZING to DONE, ERROR or CANCELLED.

    :param job_id: the job's id, for messages and the merged result.
    :param circuits: the job's circuits; results are checked against their names.
    :param per_task: the most circuits one task carries.
    :param device: the backend name, for messages.
    :param emit: receives each change's events (see :data:`EventSink`).
    """

    def __init__(
        self,
        job_id: str,
        circuits: CircuitBatch,
        per_task: int,
        device: str,
        emit: EventSink,
        created_at: datetime | None = None,
    ) -> None:
        self.job_id = job_id
        self.device = device
        self.circuits = circuits
        self.total = len(circuits)
        self.chunks = [_Chunk(a, b) for a, b in split(self.total, per_task)]
        self.created_at = created_at or utcnow()
        self.submitted_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.result: Result | None = None
        self.error_message: str | None = None
        self._emit = emit
        self.on_state: Callable[[int], None] | None = None
        """Called with a task's index after it reported executor state, outside the lock."""
        self._lock = threading.RLock()
        self._status = JobStatus.INITIALIZING
        self._final: JobStatus | None = None
        self._started = 0
        self._done = 0
        self._finished_circuits = 0
        self._reported_progress = 0
        self._holding = False

    # -- reads: they never emit -------------------------------------------------------

    @property
    def final(self) -> JobStatus | None:
        """The final status, once the job reached one (else ``None``)."""
        return self._final

    @property
    def recorded_status(self) -> JobStatus:
        """The status the events have reported so far."""
        return self._status

    def status(self) -> JobStatus:
        """Return the status the job has reached (RUNNING once a task reported it started)."""
        return self._status

    def progress(self) -> Progress:
        """Return how many circuits finished, out of how many."""
        return Progress(self._finished_circuits, self.total)

    def futures(self) -> list[concurrent.futures.Future[Result]]:
        """Return the futures of the tasks still out."""
        return [c.future for c in self.chunks if c.future is not None]

    def states(self) -> list[dict[str, Any]]:
        """Return each task's executor state (a remote job id), as reported."""
        return [dict(c.state) for c in self.chunks]

    # -- commands -----------------------------------------------------------------------

    def start(
        self,
        submit: Submitter,
        states: Sequence[dict[str, Any]] | None,
        announce: bool,
        running: bool = False,
    ) -> None:
        """Hand every task out through ``submit``, then report QUEUED and whatever followed.

        Events wait until every task is out, so ``job_submitted`` and
        INITIALIZING -> QUEUED come before anything a fast task reports.

        :param states: each task's stored state, to resume tasks a remote service runs.
        :param announce: emit ``job_submitted`` (not for a restored job).
        :param running: the resumed tasks were already running when stored.
        :raises JobStateError: if the job was already submitted or has finished.
        """
        with self._lock:
            if self._final is not None or (self.submitted_at is not None and states is None):
                raise JobStateError(self.job_id, f"job {self.job_id!r} was already submitted")
            self.submitted_at = self.submitted_at or utcnow()
            self._holding = True
        failure: BaseException | None = None
        try:
            for index, chunk in enumerate(self.chunks):
                state = states[index] if states is not None and index < len(states) else None
                if state:
                    chunk.state = dict(state)
                    if running:
                        self._mark_started(chunk)
                future = submit(index, state or None)
                chunk.future = future
                future.add_done_callback(functools.partial(self._on_done, index))
        except BaseException as exc:
            failure = exc
            for chunk in self.chunks:
                if chunk.future is not None:
                    chunk.future.cancel()
        with self._lock:
            self._holding = False
            events: list[Event] = [("job_submitted", {})] if announce else []
            self._set_status(JobStatus.QUEUED, events)
            if failure is not None and self._final is None:
                self._fail(f"the executor refused the job: {type(failure).__name__}: {failure}", events)
            else:
                self._advance(events)
            self._send(events)
        if failure is not None:
            raise failure

    def on_task_event(self, kind: str, payload: Any) -> None:
        """Take a task's report: ``started``, ``progress`` ((index, count)) or ``state`` ((index, dict))."""
        with self._lock:
            events: list[Event] = []
            if kind == "started":
                self._mark_started(self.chunks[payload])
            elif kind == "progress":
                index, count = payload
                chunk = self.chunks[index]
                self._mark_started(chunk)
                count = max(0, min(int(count), chunk.size))
                if chunk.outcome is None and count > chunk.finished_count:
                    self._finished_circuits += count - chunk.finished_count
                    chunk.finished_count = count
            elif kind == "state":
                index, state = payload
                self.chunks[index].state = dict(state)
            if not self._holding:
                self._advance(events)
            if events:
                self._send(events)
        if kind == "state" and self.on_state is not None:
            self.on_state(payload[0])  # outside the lock: the listener may write to a store

    def cancel(self, stop: Callable[[concurrent.futures.Future[Result]], bool] | None) -> bool:
        """Try to stop the job; return True only if nothing more of it will run.

        :param stop: the executor's own way to stop a running task, if it has one
            (a future may stand for a remote job only the executor can stop).
        """
        with self._lock:
            if self._final is not None:
                return False
            if self.submitted_at is None:
                events: list[Event] = []
                self._end(JobStatus.CANCELLED, events)
                self._send(events)
                return True
            futures = [c.future for c in self.chunks if c.future is not None and c.outcome is None]
        stopped_all = True
        for future in futures:
            if future.done():
                continue
            if not (stop(future) if stop is not None else future.cancel()):
                stopped_all = False
        return stopped_all

    def adopt_final(
        self,
        status: JobStatus,
        result: Result | None,
        error_message: str | None,
        submitted_at: datetime | None,
        finished_at: datetime | None,
    ) -> None:
        """Take over a stored job that had already finished (no events: nothing happened now)."""
        with self._lock:
            self.submitted_at = submitted_at
            self.finished_at = finished_at
            self.result = result
            self.error_message = error_message
            if status is JobStatus.DONE:
                self._finished_circuits = self._reported_progress = self.total
            self._final = self._status = status

    # -- what the futures report --------------------------------------------------------

    def _on_done(self, index: int, future: concurrent.futures.Future[Result]) -> None:
        """A task's future finished: check its result, count it, and finish the job after the last one."""
        chunk = self.chunks[index]
        try:
            names = [c.name for c in self.circuits[chunk.start : chunk.stop]]
            outcome = future_outcome(future, names, self.device, chunk.start)
        except Exception as exc:  # never leave a job unfinished because a check went wrong
            outcome = ("error", f"{type(exc).__name__}: {exc}")
        with self._lock:
            if chunk.outcome is not None or self._final is not None:
                return
            chunk.outcome = outcome
            self._done += 1
            if outcome[0] == "done":
                self._finished_circuits += chunk.size - chunk.finished_count
                chunk.finished_count = chunk.size
            if self._holding:
                return
            events: list[Event] = []
            self._advance(events)
            self._send(events)

    def _send(self, events: list[Event]) -> None:
        """Hand ``events`` on; once the job is final, let go of the receiver (and so of the job)."""
        self._emit(events)
        if self._final is not None:
            self._emit = _drop
            self.on_state = None

    def _mark_started(self, chunk: _Chunk) -> None:
        if not chunk.started:
            chunk.started = True
            self._started += 1

    def _advance(self, events: list[Event]) -> None:
        """Work out progress and status from the counters; append what changed."""
        if self._final is not None:
            return
        if self._finished_circuits != self._reported_progress:
            self._reported_progress = self._finished_circuits
            events.append(("job_progress", {"progress": Progress(self._finished_circuits, self.total)}))
        if self._done == len(self.chunks):
            self._finish(events)
        elif self._started or self._done:
            self._set_status(JobStatus.RUNNING, events)

    def _finish(self, events: list[Event]) -> None:
        outcomes = [c.outcome for c in self.chunks]
        kinds = [o[0] for o in outcomes if o is not None]
        if "cancelled" in kinds:
            self._end(JobStatus.CANCELLED, events)
        elif "error" in kinds:
            errors = [(i, o[1]) for i, o in enumerate(outcomes) if o is not None and o[0] == "error"]
            message = errors[0][1] if len(errors) == 1 else "; ".join(f"task {i}: {m}" for i, m in errors)
            self._fail(message, events)
        else:
            try:
                self.result = merge_results([o[1] for o in outcomes if o is not None], self.job_id)
            except Exception as exc:
                self._fail(f"the results could not be merged: {type(exc).__name__}: {exc}", events)
                return
            self._end(JobStatus.DONE, events)

    def _fail(self, message: str, events: list[Event]) -> None:
        self.error_message = message
        self._end(JobStatus.ERROR, events)

    def _end(self, status: JobStatus, events: list[Event]) -> None:
        """Make ``status`` final, let go of the futures (and their callbacks of this job)."""
        self.finished_at = utcnow()
        for chunk in self.chunks:
            chunk.future = None
            chunk.outcome = None
        self._final = status
        self._set_status(status, events)
        events.append(("job_finished", {}))

    def _set_status(self, new: JobStatus, events: list[Event]) -> None:
        old = self._status
        if old is not new:
            self._status = new
            events.append(("job_status_changed", {"old": old, "new": new}))
