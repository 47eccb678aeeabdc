"""The ``dask`` executor: tasks run as Dask futures on a cluster.

The executor connects on its first ``submit``: to the scheduler at
``address``, or to a ``distributed.LocalCluster`` it starts itself. Each task
becomes one Dask future; a ``concurrent.futures.Future`` mirrors it for the
job handle. Workers announce that a task started through a Dask event topic
private to this executor, so a job turns RUNNING only when a worker really
runs it.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import threading
import uuid
import weakref
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs
from distributed import Client, LocalCluster
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker, NoValidWorkerError, NoWorkerError

from qdispatch.errors import ExecutorError, TaskCancelledError, WorkerDiedError
from qdispatch_dask.errors import DaskSchedulerError, DaskTaskError
from qdispatch_dask.worker import run_task

if TYPE_CHECKING:
    from distributed import Future as DaskFuture
    from qiskit.result import Result

    from qdispatch.task import Task

CONNECTION_LOST = "scheduler-connection-lost"
"""The reason Dask gives for futures it dropped when the scheduler went away."""


@attrs.define(eq=False)
class _Entry:
    """One submitted task: its client-side future and the Dask future behind it."""

    task: Task
    future: Future[Result]
    key: str
    dask_future: DaskFuture | None = None
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
    :param threads_per_worker: threads per local worker (default 1, since a
        simulation holds the GIL).
    :param connect_timeout: seconds to wait for the scheduler at connection.
    :param dashboard_address: where the local cluster serves its dashboard
        (``None``: no dashboard).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        connect_timeout: float = 10.0,
        dashboard_address: str | None = None,
    ) -> None:
        self.address = address
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.connect_timeout = connect_timeout
        self.dashboard_address = dashboard_address
        self._topic = f"qdispatch-started-{uuid.uuid4().hex}"
        self._lock = threading.Lock()
        self._connect_lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._by_future: dict[Future[Result], _Entry] = {}
        self._client: Client | None = None
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
            if client is not None:
                self._client = None
                self._close_client(client)
            if self.address is None and self._cluster is None:
                try:
                    self._cluster = LocalCluster(
                        n_workers=self.n_workers,
                        threads_per_worker=self.threads_per_worker,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=self.dashboard_address,
                    )
                except Exception as exc:
                    raise ExecutorError(f"cannot start a local Dask cluster: {type(exc).__name__}: {exc}") from exc
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
        entry = _Entry(task=task, future=Future(), key=key)
        with self._lock:
            self._entries[key] = entry
            self._by_future[entry.future] = entry
        try:
            dask_future = client.submit(run_task, task, self._topic, key, key=key, pure=False)
        except Exception as exc:
            self._forget(entry)
            address = self.scheduler_address or "?"
            raise DaskSchedulerError(
                address, f"cannot submit to the Dask scheduler at {address}: {type(exc).__name__}: {exc}"
            ) from exc
        entry.dask_future = dask_future
        entry.future.add_done_callback(lambda future: self._on_future_done(entry))
        dask_future.add_done_callback(lambda _f: self._on_dask_done(entry))
        return entry.future

    def cancel(self, future: Future[Result]) -> bool:
        """Cancel the task of ``future``; its future ends cancelled either way.

        The Dask task is released, so no result is taken and Dask does not
        retry it. Returns True when no worker had started it, so it never
        runs; False when a worker was already simulating it: a worker thread
        cannot be interrupted, so that simulation runs to its end there and
        its result is dropped.
        """
        if future.cancel():  # not started: the done callback releases the Dask task
            return True
        entry = self._entry_of(future)
        if entry is None or future.done():
            return False
        self._release(entry)
        self._set_exception(
            entry.future,
            TaskCancelledError(f"task {entry.task.index} of job {entry.task.job_id} was cancelled while running"),
        )
        return False

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting tasks and disconnect; a local cluster is closed.

        :param wait: wait for submitted tasks to finish first; otherwise cancel them.
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
                self.cancel(entry.future)
        with self._connect_lock:
            client, self._client = self._client, None
            cluster, self._cluster = self._cluster, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(self._topic)
            self._close_client(client)
        if cluster is not None:
            cluster.close(timeout=30)
        self._events.shutdown(wait=False, cancel_futures=True)
        _live.discard(self)

    # -- events from Dask -------------------------------------------------------------

    def _entry_of(self, future: Future[Result]) -> _Entry | None:
        with self._lock:
            return self._by_future.get(future)

    def _forget(self, entry: _Entry) -> None:
        with self._lock:
            self._entries.pop(entry.key, None)
            self._by_future.pop(entry.future, None)

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
        """A client-side future ended: if it was cancelled while queued, release the Dask task."""
        if entry.future.cancelled():
            self._release(entry)

    def _release(self, entry: _Entry) -> None:
        entry.cancel_requested = True
        self._forget(entry)
        if entry.dask_future is not None:
            with contextlib.suppress(Exception):  # the connection is gone: nothing left to cancel
                entry.dask_future.cancel(reason="qdispatch-cancel", msg="cancelled by qdispatch")

    def _on_dask_done(self, entry: _Entry) -> None:
        """Called in Dask's callback thread when the task finished, failed or was dropped."""
        self._forget(entry)
        if entry.future.done() or entry.cancel_requested:
            return
        assert entry.dask_future is not None
        name = f"task {entry.task.index} of job {entry.task.job_id}"
        address = self.scheduler_address or "?"
        try:
            status, value, worker = entry.dask_future.result()
        except FutureCancelledError as exc:
            if exc.reason == CONNECTION_LOST:
                self._connection_lost = True
                error: BaseException = DaskSchedulerError(
                    address,
                    f"lost the connection to the Dask scheduler at {address} before {name} finished; "
                    "restore the job (Job.restore) to submit it again",
                )
            else:
                error = DaskSchedulerError(address, f"the Dask scheduler at {address} dropped {name}: {exc}")
            self._set_exception(entry.future, error)
            return
        except (KilledWorker, NoWorkerError, NoValidWorkerError) as exc:
            self._set_exception(entry.future, WorkerDiedError(f"{name} could not finish on the Dask cluster: {exc}"))
            return
        except Exception as exc:
            self._set_exception(
                entry.future, ExecutorError(f"{name} failed on the Dask cluster at {address}: {type(exc).__name__}: {exc}")
            )
            return
        if status == "ok":
            self._set_result(entry.future, value)
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
