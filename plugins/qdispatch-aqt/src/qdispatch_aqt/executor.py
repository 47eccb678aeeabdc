"""The ``aqt`` executor: submits tasks to AQT's cloud and polls them to completion.

``submit`` sends the task's circuits (one AQT request per task) before it
returns, and records the remote job id with ``task.report_state`` at once, so
a job persisted right after ``backend.run`` can always be resumed. A few
worker threads then poll every remote job on an adaptive schedule: the first
poll comes ``poll_initial`` seconds after submitting, each unchanged answer
stretches the interval by ``poll_factor`` up to ``poll_max`` (so a result is
seen after a small fraction of the time the job took), the job starting
resets it to ``poll_initial``, a moving ``finished_count`` holds it, and every
interval is jittered so many clients do not poll in step. Failed reads are
retried with exponential backoff; a submit is never sent twice.

``shutdown(wait=True)`` returns once every watched job ended; the remote jobs
run on AQT regardless, so a persisted job can be collected by ``Job.restore``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, InvalidStateError
from typing import TYPE_CHECKING, Any

import attrs

from qdispatch.errors import ExecutorError, InvalidInputError, QDispatchError, TaskCancelledError
from qdispatch.validation import positive_int, positive_number
from qdispatch_aqt.client import check_job_id
from qdispatch_aqt.convert import job_request, make_result
from qdispatch_aqt.device import AQTDevice
from qdispatch_aqt.errors import AQTJobFailedError, AQTSubmitUncertainError, AQTTransientError
from qdispatch_aqt.redact import redact

if TYPE_CHECKING:
    from qiskit.result import Result

    from qdispatch.task import Task

RUN_OPTIONS = frozenset({"memory"})
"""Run options the ``aqt`` backend accepts: ``memory=True`` keeps every shot's outcome."""


class RemoteFuture(Future["Result"]):
    """A future for a remote AQT job; ``cancel()`` asks AQT to cancel that job.

    It stays pending while AQT queues the job and runs once AQT reports it
    ongoing. ``cancel()`` returns True only when the job will not run: it was
    never sent, or AQT accepted the cancellation.
    """

    def __init__(self) -> None:
        super().__init__()
        self.canceller: Callable[[], bool] | None = None

    def cancel(self) -> bool:
        """Cancel the remote job; return whether AQT accepted (False if it cannot)."""
        if self.done():
            return self.cancelled()
        if self.canceller is None:
            return super().cancel()
        if not self.canceller():
            return False
        if not super().cancel():  # already running: end it with TaskCancelledError
            with contextlib.suppress(InvalidStateError):
                self.set_exception(TaskCancelledError("the AQT job was cancelled while it ran"))
        return True


@attrs.define(eq=False)
class _Watch:
    """One remote job being polled."""

    task: Task
    future: RemoteFuture
    device: AQTDevice
    remote_id: str
    delay: float
    failures: int = 0
    finished_count: int = 0
    started: bool = False
    status: str = "queued"


class AQTExecutor:
    """Runs tasks of the ``aqt`` backend on AQT's cloud.

    :param max_workers: threads polling remote jobs (each poll is one short request).
    :param poll_initial: seconds before the first poll, and after any change.
    :param poll_max: the longest interval between polls of one job.
    :param poll_factor: how much each unchanged answer stretches the interval.
    :param jitter: the interval is multiplied by a random factor in ``[1 - jitter, 1 + jitter]``.
    :param retries: failed reads in a row (connection errors, timeouts, 429, 5xx)
        tolerated per job before its task fails.
    :param retry_initial: seconds before the first retry; doubled each time up to ``retry_max``.
    :param retry_max: the longest wait between retries.
    """

    def __init__(
        self,
        max_workers: int = 4,
        poll_initial: float = 0.05,
        poll_max: float = 3.0,
        poll_factor: float = 1.3,
        jitter: float = 0.2,
        retries: int = 10,
        retry_initial: float = 0.1,
        retry_max: float = 10.0,
    ) -> None:
        owner = "executor 'aqt'"
        positive_int("max_workers", max_workers, owner=owner)
        positive_int("retries", retries, owner=owner)
        for name, value in (
            ("poll_initial", poll_initial),
            ("poll_max", poll_max),
            ("poll_factor", poll_factor),
            ("retry_initial", retry_initial),
            ("retry_max", retry_max),
        ):
            positive_number(name, value, owner=owner)
        if poll_factor < 1 or poll_max < poll_initial:
            raise InvalidInputError("poll_factor must be at least 1 and poll_max at least poll_initial")
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter < 1:
            raise InvalidInputError(f"jitter must be a number in [0, 1), not {jitter!r}")
        self.max_workers = max_workers
        self.poll_initial = float(poll_initial)
        self.poll_max = float(poll_max)
        self.poll_factor = float(poll_factor)
        self.jitter = float(jitter)
        self.retries = retries
        self.retry_initial = float(retry_initial)
        self.retry_max = float(retry_max)
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._threads: list[threading.Thread] = []
        self._live: set[_Watch] = set()
        self._closed = False
        self._stopped = False

    # -- the Executor protocol ---------------------------------------------------------

    def submit(self, task: Task) -> Future[Result]:
        """Send ``task`` to AQT now; return a future that completes when AQT finishes it.

        Problems with the task (credentials, conversion, a refused or lost
        submit) end the future with the error instead of raising.
        """
        if self._closed:
            raise ExecutorError("the aqt executor was shut down; create a new Provider")
        future = RemoteFuture()
        label = f"qdispatch {task.job_id}#{task.index}"
        try:
            device = self._device(task)
            unknown = sorted(set(task.run_options) - RUN_OPTIONS)
            if unknown:
                raise InvalidInputError(
                    f"run option(s) {', '.join(unknown)} not supported by backend 'aqt' "
                    f"(supported: {', '.join(sorted(RUN_OPTIONS))})"
                )
            request = job_request(list(task.circuits), task.shots, label)
            answer = device.client.submit(device.workspace, device.resource, request)
        except AQTSubmitUncertainError as exc:
            task.report_state({"submit_answer_lost": True, "label": label})
            future.set_exception(exc)
            return future
        except QDispatchError as exc:
            future.set_exception(exc)
            return future
        remote_id = str(answer.job.job_id)
        # first thing once AQT answered, before any poll is scheduled: the core can persist the id
        task.report_state(
            {
                "remote_job_id": remote_id,
                "url": device.url,
                "workspace": device.workspace,
                "resource": device.resource,
            }
        )
        return self._watch(task, future, device, remote_id, self.poll_initial)

    def resume(self, task: Task, state: Mapping[str, Any]) -> Future[Result]:
        """Poll the remote job a previous process submitted for ``task`` (never submit again)."""
        if self._closed:
            raise ExecutorError("the aqt executor was shut down; create a new Provider")
        future = RemoteFuture()
        remote_id = state.get("remote_job_id")
        try:
            if not remote_id:
                if state.get("submit_answer_lost"):
                    raise AQTSubmitUncertainError(
                        f"the submit of task {task.index} of job {task.job_id} lost its answer, so AQT may "
                        f"or may not have it; qdispatch will not send it again: look for label "
                        f"{state.get('label')!r} in AQT's portal"
                    )
                raise ExecutorError(f"task {task.index} of job {task.job_id} has no AQT job id to resume")
            remote_id = check_job_id(remote_id)  # a record may have been edited: check before any request
            device = self._device(task)
            if state.get("url") and state["url"] != device.url:
                raise ExecutorError(
                    f"AQT job {remote_id} was submitted to {state['url']}, but backend 'aqt' is now "
                    f"configured for {device.url}; set url={state['url']!r} to resume it"
                )
        except QDispatchError as exc:
            future.set_exception(exc)
            return future
        return self._watch(task, future, device, str(remote_id), 0.0)

    def cancel(self, future: Future[Result]) -> bool:
        """Ask AQT to cancel the job of ``future``; return whether it will not run."""
        return future.cancel() if isinstance(future, RemoteFuture) else False

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting tasks; with ``wait``, return once every remote job being watched ended.

        Without ``wait`` the watching goes on in the background for as long as
        this process lives. Either way the remote jobs keep running on AQT: a
        persisted job can be collected later with ``Job.restore``.
        """
        with self._cond:
            self._closed = True
            live = [w.future for w in self._live]
        if not wait:
            return
        concurrent.futures.wait(live)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    # -- watching remote jobs -------------------------------------------------------------

    @staticmethod
    def _device(task: Task) -> AQTDevice:
        device = task.resolve_device()
        if not isinstance(device, AQTDevice):
            raise ExecutorError(
                f"the aqt executor runs only the 'aqt' backend, not {task.backend!r}; "
                "use the thread or process executor for it"
            )
        return device

    def _watch(
        self, task: Task, future: RemoteFuture, device: AQTDevice, remote_id: str, first: float
    ) -> RemoteFuture:
        watch = _Watch(task=task, future=future, device=device, remote_id=remote_id, delay=self.poll_initial)
        future.canceller = lambda: self._cancel_remote(watch)
        with self._cond:
            self._live.add(watch)
        future.add_done_callback(lambda _f: self._forget(watch))
        self._schedule(watch, first)
        return future

    def _forget(self, watch: _Watch) -> None:
        with self._cond:
            self._live.discard(watch)

    def _schedule(self, watch: _Watch, delay: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), watch))
            if len(self._threads) < self.max_workers:
                thread = threading.Thread(
                    target=self._work, name=f"qdispatch-aqt-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._cond.notify()

    def _work(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    if self._heap:
                        wait = self._heap[0][0] - time.monotonic()
                        if wait <= 0:
                            watch = heapq.heappop(self._heap)[2]
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
            try:
                self._poll(watch)
            except Exception as exc:  # never let a worker die silently
                self._fail(
                    watch,
                    ExecutorError(
                        redact(f"polling AQT job {watch.remote_id} failed: {type(exc).__name__}: {exc}")
                    ),
                )

    def _jittered(self, seconds: float) -> float:
        return seconds * random.uniform(1 - self.jitter, 1 + self.jitter)

    def _poll(self, watch: _Watch) -> None:
        if watch.future.done():
            return
        try:
            answer = watch.device.client.job_state(watch.remote_id)
        except AQTTransientError as exc:
            watch.failures += 1
            if watch.failures > self.retries:
                self._fail(
                    watch,
                    ExecutorError(
                        redact(
                            f"gave up polling AQT job {watch.remote_id} after {watch.failures} failed "
                            f"attempts ({exc}); "
                            "the job may still run on AQT: restore it later with Job.restore"
                        )
                    ),
                )
                return
            backoff = min(self.retry_initial * 2 ** (watch.failures - 1), self.retry_max)
            self._schedule(watch, self._jittered(backoff))
            return
        except QDispatchError as exc:
            self._fail(watch, exc)
            return
        watch.failures = 0
        state = answer.response
        status = state.status.value
        changed = status != watch.status
        watch.status = status
        if status == "finished":
            try:
                result = make_result(
                    list(watch.task.circuits),
                    state.result,  # type: ignore[union-attr]
                    backend_name="aqt",
                    job_id=watch.remote_id,
                    memory=bool(watch.task.run_options.get("memory", False)),
                    shots=watch.task.shots,
                )
            except QDispatchError as exc:
                self._fail(watch, exc)
                return
            self._complete(watch, result)
        elif status == "error":
            message = getattr(state, "message", "no message")
            self._fail(watch, AQTJobFailedError(f"AQT job {watch.remote_id} failed: {message}"))
        elif status == "cancelled":
            self._fail(watch, TaskCancelledError(f"AQT job {watch.remote_id} was cancelled"))
        else:
            moved = False
            if status == "ongoing":
                if not watch.started:
                    watch.started = True
                    if not watch.future.set_running_or_notify_cancel():
                        return
                    watch.task.report_started()
                count = getattr(state, "finished_count", 0)
                if count != watch.finished_count:
                    watch.finished_count = count
                    watch.task.report_progress(count)
                    moved = True
            if changed:  # the job started: it may end soon
                watch.delay = self.poll_initial
            elif not moved:  # progress holds the interval; silence stretches it
                watch.delay = min(watch.delay * self.poll_factor, self.poll_max)
            self._schedule(watch, self._jittered(watch.delay))

    def _cancel_remote(self, watch: _Watch) -> bool:
        if watch.future.done() or watch.status in ("finished", "error", "cancelled"):
            return False
        return watch.device.client.cancel(watch.remote_id)

    @staticmethod
    def _complete(watch: _Watch, result: Result) -> None:
        with contextlib.suppress(InvalidStateError):
            watch.future.set_result(result)

    @staticmethod
    def _fail(watch: _Watch, error: BaseException) -> None:
        with contextlib.suppress(InvalidStateError):
            watch.future.set_exception(error)
