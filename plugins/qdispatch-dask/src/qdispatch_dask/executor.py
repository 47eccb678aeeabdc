"""The ``dask`` executor: tasks run as Dask futures on a cluster.

The executor connects on its first ``submit``: to the scheduler at
``address``, or to a ``distributed.LocalCluster`` it starts itself. Each task
becomes one Dask future; a ``concurrent.futures.Future`` mirrors it for the
job handle. Workers announce that a task started through a Dask event topic
private to this executor, so a job turns RUNNING only when a worker really
runs it.

Cancelling a job cancels the tasks that no worker has started: each is marked
cancelled on the scheduler (so no worker starts it later, see
:mod:`qdispatch_dask.worker`), then Dask forgets it. A simulation already
running in a worker thread cannot be interrupted, so, as with the ``thread``
executor, such a task runs to its end and ``job.cancel()`` returns False.
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures
import contextlib
import threading
import uuid
import weakref
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs
from distributed import Client, LocalCluster, as_completed
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker, NoValidWorkerError, NoWorkerError

from qdispatch.errors import ConfigurationError, ExecutorError, TaskCancelledError, WorkerDiedError
from qdispatch.validation import positive_int, positive_number
from qdispatch_dask.errors import DaskSchedulerError, DaskTaskError
from qdispatch_dask.worker import cancelled_mark, run_task, started_mark

if TYPE_CHECKING:
    from distributed import Future as DaskFuture
    from qiskit.result import Result

    from qdispatch.task import Task

CONNECTION_LOST = "scheduler-connection-lost"
"""The reason Dask gives for futures it dropped when the scheduler went away."""


class _TaskFuture(Future["Result"]):
    """The future of one task: ``cancel()`` first makes sure that no worker has started it."""

    def __init__(self, claim: Callable[[], bool]) -> None:
        super().__init__()
        self._claim = claim

    def cancel(self) -> bool:
        """Cancel the task if no worker has started it; return whether it is cancelled."""
        if self.running() or self.done():
            return super().cancel()  # False, or True if it was cancelled already
        if not self._claim():
            return False
        return super().cancel()


@attrs.define(eq=False)
class _Entry:
    """One submitted task: its client-side future and the Dask future behind it."""

    task: Task
    future: Future[Result]
    key: str
    dask_future: DaskFuture | None = None
    namespace: list[str] = attrs.field(factory=list)
    started: bool = False
    cancel_requested: bool = False


_live: weakref.WeakSet[DaskExecutor] = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    for executor in list(_live):
        executor.shutdown(wait=False)


class DaskExecutor:
    """Runs tasks on a Dask cluster.

    :param address: a running scheduler (``tcp://host:8786``); ``None`` starts a
        ``LocalCluster`` on first use, closed by :meth:`shutdown`.
    :param n_workers: worker processes of the local cluster (``None``: Dask's
        default, one per core with one thread each).
    :param threads_per_worker: threads per local worker (``None``: 1, since a
        simulation holds the GIL).
    :param connect_timeout: seconds to wait for the scheduler at connection.
    :param dashboard_address: where the local cluster serves its dashboard
        (``None``: no dashboard).

    These are the executor's options, declared here only: the plugin registers
    this class, and qdispatch reads the options from this signature.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        n_workers: int | None = None,
        threads_per_worker: int | None = None,
        connect_timeout: float = 10.0,
        dashboard_address: str | None = None,
    ) -> None:
        owner = "executor 'dask'"
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ConfigurationError(
                f"dask executor: address must be a scheduler address like 'tcp://host:8786', not {address!r}"
            )
        if n_workers is not None:
            positive_int("n_workers", n_workers, owner=owner)
        if threads_per_worker is not None:
            positive_int("threads_per_worker", threads_per_worker, owner=owner)
        connect_timeout = positive_number("connect_timeout", connect_timeout, owner=owner)
        if dashboard_address is not None and not isinstance(dashboard_address, str):
            raise ConfigurationError(
                f"dask executor: dashboard_address must be a string, not {dashboard_address!r}"
            )
        local_only = [
            n
            for n, v in (
                ("n_workers", n_workers),
                ("threads_per_worker", threads_per_worker),
                ("dashboard_address", dashboard_address),
            )
            if v is not None
        ]
        if address is not None and local_only:
            raise ConfigurationError(
                f"dask executor: {', '.join(local_only)} only apply to the local cluster started without an "
                f"address; the cluster at {address} has its own workers"
            )
        self.address = address.strip() if address is not None else None
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker or 1
        self.connect_timeout = connect_timeout
        self.dashboard_address = dashboard_address
        self._topic = f"qdispatch-started-{uuid.uuid4().hex}"
        self._namespace = ["qdispatch-dask", self._topic]
        self._lock = threading.Lock()
        self._connect_lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._per_job: collections.Counter[str] = collections.Counter()
        self._job_namespaces: dict[str, list[str]] = {}
        self._client: Client | None = None
        self._completed: as_completed | None = None
        self._completed_client: Client | None = None
        self._collecting = False
        self._cluster: LocalCluster | None = None
        self._connection_lost = False
        self._closed = False
        self._events = ThreadPoolExecutor(1, thread_name_prefix="qdispatch-dask-events")
        _live.add(self)

    # -- connection ----------------------------------------------------------------------

    @property
    def scheduler_address(self) -> str | None:
        """The scheduler in use: ``address``, or the local cluster's once started."""
        if self.address is not None:
            return self.address
        return self._cluster.scheduler_address if self._cluster is not None else None

    def client(self) -> Client:
        """Return the connected Dask client, connecting (or starting the local cluster) first.

        :raises DaskSchedulerError: naming the address, if the scheduler cannot be reached.
        """
        with self._connect_lock:
            client = self._client
            if client is not None and client.status == "running" and not self._connection_lost:
                return client
            if client is not None:  # its connection was lost: let it go without waiting
                self._client = None
                threading.Thread(target=self._close_client, args=(client,), daemon=True).start()
            if self.address is None and self._cluster is None:
                # Without a dashboard the scheduler still serves its HTTP routes: on a free port, not 8787.
                http = (
                    {} if self.dashboard_address else {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
                )
                try:
                    self._cluster = LocalCluster(
                        n_workers=self.n_workers,
                        threads_per_worker=self.threads_per_worker,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=self.dashboard_address,
                        scheduler_kwargs=http,
                    )
                except Exception as exc:
                    raise ExecutorError(
                        f"cannot start a local Dask cluster: {type(exc).__name__}: {exc}"
                    ) from exc
            address = self.scheduler_address
            assert address is not None
            try:
                client = Client(address, timeout=self.connect_timeout, set_as_default=False)
            except Exception as exc:
                raise DaskSchedulerError(
                    address,
                    f"cannot reach the Dask scheduler at {address} within {self.connect_timeout:g} s: "
                    f"{type(exc).__name__}: {exc}",
                ) from exc
            client.subscribe_topic(self._topic, self._on_event)
            self._client = client
            self._connection_lost = False
            return client

    @staticmethod
    def _close_client(client: Client) -> None:
        with contextlib.suppress(Exception):  # a client whose scheduler is gone may fail to close cleanly
            client.close(timeout=5)

    # -- the executor protocol ----------------------------------------------------------

    def submit(self, task: Task) -> Future[Result]:
        """Send ``task`` to the cluster; return a future that mirrors its Dask future.

        :raises ExecutorError: if the executor was shut down.
        :raises DaskSchedulerError: naming the address, if the scheduler cannot be reached.
        """
        if self._closed:
            raise ExecutorError("the dask executor was shut down; create a new Provider")
        client = self.client()
        key = f"qdispatch-{task.job_id}-{task.index}-{uuid.uuid4().hex[:12]}"
        entry = _Entry(task=task, future=_TaskFuture(lambda: self._claim(entry)), key=key)
        with self._lock:
            self._entries[key] = entry
            if not self._per_job[task.job_id]:  # a fresh set of marks for each stretch of activity
                self._job_namespaces[task.job_id] = [*self._namespace, task.job_id, uuid.uuid4().hex[:12]]
            self._per_job[task.job_id] += 1
            entry.namespace = self._job_namespaces[task.job_id]
        try:
            dask_future = client.submit(
                run_task, task, self._topic, key, entry.namespace, key=key, pure=False
            )
        except Exception as exc:
            self._forget(entry)
            address = self.scheduler_address or "?"
            raise DaskSchedulerError(
                address, f"cannot submit to the Dask scheduler at {address}: {type(exc).__name__}: {exc}"
            ) from exc
        entry.dask_future = dask_future
        entry.future.add_done_callback(lambda future: self._on_future_done(entry))
        self._track(client, dask_future)
        return entry.future

    @property
    def max_workers(self) -> int:
        """How many tasks the cluster runs at once: its workers' threads, as the scheduler counts them now.

        Connects first (starting the local cluster) if not yet connected.
        """
        workers = self.client().scheduler_info(n_workers=-1)["workers"]
        return sum(int(info.get("nthreads", 0)) for info in workers.values())

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting tasks and disconnect; a local cluster is closed.

        :param wait: wait for submitted tasks to finish first. Otherwise queued
            tasks are cancelled, and tasks already running are abandoned: their
            futures end with :class:`~qdispatch.errors.TaskCancelledError`,
            while the workers finish the simulations and drop the results.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            entries = list(self._entries.values())
        if wait:
            concurrent.futures.wait([entry.future for entry in entries])
        else:
            for entry in entries:
                if not entry.future.cancel():  # running: nobody will be there to take the result
                    self._release(entry)
                    self._set_exception(
                        entry.future,
                        TaskCancelledError(
                            f"task {entry.task.index} of job {entry.task.job_id} was abandoned: the dask "
                            "executor "
                            "was shut down without waiting"
                        ),
                    )
        with self._connect_lock:
            client, self._client = self._client, None
            cluster, self._cluster = self._cluster, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(self._topic)
                client.set_metadata(self._namespace, None)
            self._close_client(client)
        if cluster is not None:
            cluster.close(timeout=30)
        self._events.shutdown(wait=False, cancel_futures=True)
        _live.discard(self)

    # -- events from Dask -------------------------------------------------------------

    def _forget(self, entry: _Entry) -> None:
        job_id = entry.task.job_id
        with self._lock:
            if self._entries.pop(entry.key, None) is None:
                return
            self._per_job[job_id] -= 1
            if self._per_job[job_id] > 0:
                return
            del self._per_job[job_id]
            del self._job_namespaces[job_id]
        # The job has no task in flight: nobody will look at these start marks again.
        with contextlib.suppress(RuntimeError):  # shut down
            self._events.submit(self._drop_marks, [*entry.namespace, "started"])

    def _drop_marks(self, path: list[str]) -> None:
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):
                client.set_metadata(path, None)

    def _on_event(self, event: tuple[float, Any]) -> None:
        """Called on the client's event loop: hand the event to our own thread."""
        _, message = event
        with contextlib.suppress(RuntimeError):  # shut down
            self._events.submit(self._on_started, message)

    def _on_started(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        with self._lock:
            entry = self._entries.get(str(message.get("key")))
            if entry is None or entry.started or entry.future.done():
                return
            entry.started = True
            if not entry.future.set_running_or_notify_cancel():
                return
        entry.task.report_started()

    def _on_future_done(self, entry: _Entry) -> None:
        """A client-side future ended: if cancelled before a worker started it, release the Dask task."""
        if entry.future.cancelled():
            # Move it to CANCELLED_AND_NOTIFIED, as a pool would: concurrent.futures.wait()
            # and as_completed() count a cancelled future as done only from then on.
            entry.future.set_running_or_notify_cancel()
            self._release(entry)

    def _claim(self, entry: _Entry) -> bool:
        """Mark ``entry``'s task cancelled on the scheduler; True if no worker had started it.

        See :mod:`qdispatch_dask.worker` for why this settles the race with a
        worker starting the task at the same moment.
        """
        client = self._client
        if client is None:
            return False
        try:
            client.set_metadata(cancelled_mark(entry.namespace, entry.key), True)
            return client.get_metadata(started_mark(entry.namespace, entry.key), default=None) is None
        except Exception:  # cannot tell: say it may run
            return False

    def _release(self, entry: _Entry) -> None:
        entry.cancel_requested = True
        self._forget(entry)
        dask_future, entry.dask_future = entry.dask_future, None
        if dask_future is None:
            return
        with contextlib.suppress(Exception):  # the connection is gone: nothing left to cancel
            dask_future.cancel(reason="qdispatch-cancel", msg="cancelled by qdispatch")

    def _track(self, client: Client, dask_future: DaskFuture) -> None:
        """Have the collector thread take ``dask_future``'s outcome when it completes."""
        with self._lock:
            if self._completed is None or self._completed_client is not client:
                self._completed = as_completed([], loop=client.loop, with_results=True, raise_errors=False)
                self._completed_client = client
                self._collecting = False
            self._completed.add(dask_future)
            if not self._collecting:
                self._collecting = True
                threading.Thread(
                    target=self._collect, args=(self._completed,), daemon=True, name="qdispatch-dask-results"
                ).start()

    def _collect(self, completed: as_completed) -> None:
        """Hand each finished task's outcome to its future, until nothing is left to wait for.

        ``as_completed`` fetches the results in the client's event loop, all at
        once, instead of one blocking ``Future.result()`` after another.
        """
        while True:
            with self._lock:
                if completed.is_empty():
                    if self._completed is completed:
                        self._collecting = False
                    return
            try:
                dask_future, value = next(completed)
            except StopIteration:
                continue
            with self._lock:
                entry = self._entries.get(str(dask_future.key))
            if entry is not None:
                self._finish(entry, str(dask_future.status), value)

    def _finish(self, entry: _Entry, status: str, value: Any) -> None:
        """Complete ``entry``'s future from its Dask task's ``status`` and outcome ``value``."""
        self._forget(entry)
        entry.dask_future = None  # the cluster may now free the result
        if entry.future.done() or entry.cancel_requested:
            return
        name = f"task {entry.task.index} of job {entry.task.job_id}"
        address = self.scheduler_address or "?"
        if status == "finished":
            self._finish_outcome(entry, name, value)
            return
        exc = value[1] if isinstance(value, tuple) and len(value) == 3 else value  # "error": (type, exc, tb)
        if isinstance(exc, FutureCancelledError) and exc.reason == CONNECTION_LOST:
            self._connection_lost = True
            error: BaseException = DaskSchedulerError(
                address,
                f"lost the connection to the Dask scheduler at {address} before {name} finished; "
                "restore the job (Job.restore) to submit it again",
            )
        elif isinstance(exc, FutureCancelledError):
            error = DaskSchedulerError(address, f"the Dask scheduler at {address} dropped {name}: {exc}")
        elif isinstance(exc, KilledWorker):
            error = WorkerDiedError(f"{name} could not finish on the Dask cluster: {exc}")
        elif isinstance(exc, NoWorkerError | NoValidWorkerError):
            error = ExecutorError(f"{name} found no worker on the Dask cluster at {address}: {exc}")
        else:
            error = ExecutorError(
                f"{name} failed on the Dask cluster at {address} ({status}): {type(exc).__name__}: {exc}"
            )
        self._set_exception(entry.future, error)

    def _finish_outcome(self, entry: _Entry, name: str, outcome: Any) -> None:
        status, value, worker = outcome
        if status == "ok":
            self._set_result(entry.future, value)
        elif status == "cancelled":
            self._set_exception(entry.future, TaskCancelledError(f"{name} was cancelled before it started"))
        else:
            remote_type, message, _ = value
            self._set_exception(
                entry.future,
                DaskTaskError(
                    f"{name} failed on Dask worker {worker}: {remote_type}: {message}",
                    worker=worker,
                    remote_type=remote_type,
                ),
            )

    @staticmethod
    def _set_result(future: Future[Result], result: Result) -> None:
        with contextlib.suppress(InvalidStateError):  # cancelled meanwhile
            future.set_result(result)

    @staticmethod
    def _set_exception(future: Future[Result], error: BaseException) -> None:
        with contextlib.suppress(InvalidStateError):  # cancelled or finished meanwhile
            future.set_exception(error)
