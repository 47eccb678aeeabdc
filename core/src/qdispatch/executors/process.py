"""The ``process`` executor: tasks run in worker processes, one task per worker at a time.

Unlike ``concurrent.futures.ProcessPoolExecutor``, whose every pending future
breaks when one worker dies, each worker here is watched by its own thread.
A worker that dies fails only the task it was running (with
:class:`~qdispatch.errors.WorkerDiedError`) and is replaced; a running task can
be cancelled by ending its worker.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import traceback
import weakref
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from qdispatch.errors import ExecutorError, InvalidOptionError, TaskCancelledError, WorkerDiedError
from qdispatch.hookspecs import hookimpl
from qdispatch.validation import positive_int

if TYPE_CHECKING:
    from qiskit.result import Result

    from qdispatch.plugins import Register
    from qdispatch.task import Task

_STOP = None
_STARTED = pickle.dumps(("started", None))
START_ATTEMPTS = 3
"""How many fresh workers a task is offered to when each dies before acknowledging it."""
WORKER_COMMAND = "from qdispatch.executors.process import _worker_main; _worker_main()"
WORKER_FLAGS = ("-P",)
"""Interpreter flags of a worker: ``-P`` keeps the current directory off its import path, so a
``queue.py`` or ``random.py`` there is never imported; ``PYTHONPATH`` and site-packages still apply."""


def _worker_main() -> None:
    """Run tasks received on stdin until told to stop; send results or errors on the real stdout.

    The protocol channel is moved off file descriptor 1 first, so whatever a
    task prints goes to stderr instead of corrupting the channel. Each task is
    acknowledged with ``("started", None)`` before it runs, so the executor
    can tell a worker that died before taking a task from one that died in it.
    """
    channel_out = os.dup(1)
    os.dup2(2, 1)
    inbox = Connection(0, writable=False)
    outbox = Connection(channel_out, readable=False)
    while True:
        try:
            payload = inbox.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            task = pickle.loads(payload)
            unreadable: BaseException | None = None
        except BaseException as exc:
            task, unreadable = None, exc
        if task is _STOP and unreadable is None:
            return
        outbox.send_bytes(_STARTED)
        try:
            if unreadable is not None:
                raise ExecutorError(f"the worker could not read the task: {unreadable!r}")
            reply: tuple[str, Any] = ("ok", task.run())
        except BaseException as exc:
            reply = ("error", exc)
        try:
            data = pickle.dumps(reply)
        except Exception:  # the exception itself may not pickle
            text = "".join(traceback.format_exception(reply[1])) if reply[0] == "error" else ""
            data = pickle.dumps(("error", ExecutorError(f"task failed: {text.strip()}")))
        outbox.send_bytes(data)


class _Slot:
    """One worker process and the thread that feeds and watches it."""

    def __init__(self, executor: ProcessExecutor, number: int) -> None:
        self.executor = executor
        self.number = number
        self.process: subprocess.Popen[bytes] | None = None
        self.to_worker: Connection | None = None
        self.from_worker: Connection | None = None
        self.future: Future[Result] | None = None
        self.cancel_requested = False
        self.thread = threading.Thread(target=self.loop, name=f"qdispatch-process-{number}", daemon=True)

    def ensure_process(self) -> tuple[subprocess.Popen[bytes], Connection, Connection]:
        if self.process is None or self.process.poll() is not None:
            self.close_channels()
            process = subprocess.Popen(
                [sys.executable, *WORKER_FLAGS, "-c", WORKER_COMMAND],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
                env=worker_environment(self.executor.max_workers),
            )
            assert process.stdin is not None and process.stdout is not None
            self.to_worker = Connection(os.dup(process.stdin.fileno()), readable=False)
            self.from_worker = Connection(os.dup(process.stdout.fileno()), writable=False)
            process.stdin.close()
            process.stdout.close()
            self.process = process
        assert self.to_worker is not None and self.from_worker is not None
        return self.process, self.to_worker, self.from_worker

    def close_channels(self) -> None:
        for channel in (self.to_worker, self.from_worker):
            if channel is not None:
                channel.close()
        self.to_worker = self.from_worker = None

    def loop(self) -> None:
        while True:
            item = self.executor.queue.get()
            if item is _STOP:
                self.stop_process()
                return
            task, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                self.run_one(task, future)
            except Exception as exc:  # never let the feeder thread die silently
                if not future.done():
                    future.set_exception(ExecutorError(f"process executor failed: {exc}"))

    def run_one(self, task: Task, future: Future[Result]) -> None:
        payload = pickle.dumps(task)
        with self.executor.lock:
            self.future, self.cancel_requested = future, False
        try:
            process, from_worker = self.hand_over(task, payload)
            if process is None:
                status, value = "cancelled", None
            elif from_worker is None:
                status, value = "unstarted", None
            else:
                task.report_started()
                try:
                    status, value = pickle.loads(from_worker.recv_bytes())
                except (EOFError, OSError):
                    status, value = "died", None
        finally:
            with self.executor.lock:
                self.future = None
                cancelled = self.cancel_requested
        if cancelled or status == "cancelled":
            # cancel() ended the worker and promised nothing more of this task would
            # count, even if its reply won the race with the kill.
            if process is not None:
                self.reap(process)
            future.set_exception(
                TaskCancelledError(f"task {task.index} of job {task.job_id} was cancelled while running")
            )
        elif status == "ok":
            future.set_result(value)
        elif status == "error":
            future.set_exception(value)
        elif status == "unstarted":
            assert process is not None
            future.set_exception(
                WorkerDiedError(
                    f"no worker process could take task {task.index} of job {task.job_id}: "
                    f"{START_ATTEMPTS} in a row ended before starting it, the last (pid {process.pid}) "
                    f"{describe_exit(process.returncode)}; see their error output"
                )
            )
        else:
            assert process is not None
            code = self.reap(process)
            future.set_exception(
                WorkerDiedError(
                    f"the worker process (pid {process.pid}) running task {task.index} of job "
                    f"{task.job_id} {describe_exit(code)}; the executor started a new worker"
                )
            )

    def hand_over(
        self, task: Task, payload: bytes
    ) -> tuple[subprocess.Popen[bytes] | None, Connection | None]:
        """Send ``task`` to a worker and wait for it to acknowledge the task.

        A worker that ends before acknowledging (killed while idle, or unable
        to start) never ran the task, so the task goes to a fresh worker, up
        to :data:`START_ATTEMPTS` times. Returns the worker and its channel;
        the channel is ``None`` if every attempt failed, and the worker too if
        the task was cancelled meanwhile.
        """
        process: subprocess.Popen[bytes] | None = None
        for _ in range(START_ATTEMPTS):
            process, to_worker, from_worker = self.ensure_process()
            try:
                to_worker.send_bytes(payload)
                if pickle.loads(from_worker.recv_bytes())[0] == "started":
                    return process, from_worker
            except (EOFError, OSError):
                pass
            self.reap(process)
            with self.executor.lock:
                if self.cancel_requested:
                    return None, None
        return process, None

    def reap(self, process: subprocess.Popen[bytes]) -> int | None:
        """Wait for an ended (or ending) worker, forget it, and return its exit code."""
        try:
            code: int | None = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        if self.process is process:
            self.process = None
            self.close_channels()
        return code

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()

    def stop_process(self) -> None:
        process, to_worker = self.process, self.to_worker
        if process is None:
            return
        try:
            if to_worker is not None:
                to_worker.send_bytes(pickle.dumps(_STOP))
        except OSError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.close_channels()
        self.process = None


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""Thread-count variables set for workers (unless already set) to share the cores among them."""


def worker_environment(max_workers: int) -> dict[str, str]:
    """Return the environment of a worker: this process's, with each worker's share of the cores.

    Without it every worker's simulator (Aer uses OpenMP) starts one thread
    per core, so ``max_workers`` workers oversubscribe the machine and small
    circuits run many times slower. Variables the user set are kept.
    """
    env = dict(os.environ)
    if "PYTHONPATH" in env:
        # An empty entry (from PYTHONPATH=$X:$PYTHONPATH with nothing set) means the current directory.
        kept = [entry for entry in env["PYTHONPATH"].split(os.pathsep) if entry]
        if kept:
            env["PYTHONPATH"] = os.pathsep.join(kept)
        else:
            del env["PYTHONPATH"]
    share = str(max(1, (os.cpu_count() or 1) // max_workers))
    for name in THREAD_VARIABLES:
        env.setdefault(name, share)
    return env


MIN_WORKERS_LIMIT = 64
"""The ``max_workers`` limit on a machine with few CPUs."""


def max_workers_limit() -> int:
    """Return the most worker processes a process executor accepts: 8 per CPU, at least 64."""
    return max(MIN_WORKERS_LIMIT, 8 * (os.cpu_count() or 1))


def describe_exit(code: int | None) -> str:
    """Say how a worker ended, from its exit code (negative: killed by that signal)."""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"died with exit code {code} (killed by {name})"
    return f"died with exit code {code}"


_live: weakref.WeakSet[ProcessExecutor] = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    for executor in list(_live):
        executor.shutdown(wait=False)


class ProcessExecutor:
    """Runs tasks in a pool of worker processes.

    :param max_workers: the number of worker processes (default: the number of CPUs).

    Workers are fresh Python interpreters (``python -c ...``) talking over
    pipes, so they work the same from a script, ``python -`` or a notebook.
    Each worker is given its share of the cores through ``OMP_NUM_THREADS``
    (and the BLAS equivalents) unless those are set already.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None:
            positive_int("max_workers", max_workers, owner="executor 'process'")
            limit = max_workers_limit()
            if max_workers > limit:
                raise InvalidOptionError(
                    f"option 'max_workers' of executor 'process' is {max_workers}, more than the limit of "
                    f"{limit} "
                    f"(8 per CPU, at least {MIN_WORKERS_LIMIT}): each worker is a Python process and a "
                    "thread; "
                    f"use at most {limit}"
                )
        self.max_workers = max_workers or os.cpu_count() or 1
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self._slots: list[_Slot] = []
        self._closed = False
        _live.add(self)

    def submit(self, task: Task) -> Future[Result]:
        """Queue ``task`` for the next free worker; return its future."""
        future: Future[Result] = Future()
        with self.lock:
            if self._closed:
                raise ExecutorError("the process executor was shut down; create a new Provider")
            if not self._slots:
                self._slots = [_Slot(self, n) for n in range(self.max_workers)]
                for slot in self._slots:
                    slot.thread.start()
        self.queue.put((task, future))
        return future

    def cancel(self, future: Future[Result]) -> bool:
        """Stop the task of ``future`` even if it is running, by ending its worker."""
        if future.cancel():
            return True
        with self.lock:
            for slot in self._slots:
                if slot.future is future:
                    slot.cancel_requested = True
                    slot.kill()
                    return True
        return False

    def worker_pids(self) -> list[int]:
        """Return the process ids of the live workers."""
        return [s.process.pid for s in self._slots if s.process is not None and s.process.poll() is None]

    def shutdown(self, wait: bool = True) -> None:
        """Stop the workers; with ``wait``, let queued tasks finish first."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            slots = list(self._slots)
        if not wait:
            while True:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP:
                    item[1].cancel()
            for slot in slots:
                slot.kill()
        for _ in slots:
            self.queue.put(_STOP)
        if wait:
            for slot in slots:
                slot.thread.join()
        _live.discard(self)


@hookimpl
def register_executors(register: Register) -> None:
    """Register the ``process`` executor."""
    register("process", ProcessExecutor)
