"""Delivering lifecycle hooks: in order, through pluggy, on a thread of their own.

Hooks are never called on an executor's worker thread, so a plugin that is
slow (or blocks) in ``job_finished`` holds no executor capacity: other jobs
still run, and closing the provider waits for it only a bounded time, then
names the plugin that blocks.
"""

from __future__ import annotations

import queue
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from qdispatch.plugins import running_hook

if TYPE_CHECKING:
    from qdispatch.lifecycle import Event
    from qdispatch.plugins import PluginManager

HOOK_GRACE_SECONDS = 10.0
"""How long a caller waits for lifecycle hooks that are slow: ``result()`` after the job
finished, ``persist()`` for ``job_persisted``, ``Provider.close()`` for the rest."""

Delivery = tuple[Any, Sequence["Event"], "Callable[[], None] | None"]


class HookDispatcher:
    """Calls lifecycle hooks through ``pm.hook`` on one thread, in the order they were sent.

    :param pm: the plugin manager, whose ``pm.hook`` is called, so that pluggy's
        ordering, wrappers and hook-call monitoring all apply.
    :param idle: plugins that do nothing for this provider's jobs (``autosave``
        when it is off). Events that only such plugins would hear, while no one
        monitors hook calls, are not queued at all: a job then costs no
        hand-over to the hook thread.
    """

    def __init__(self, pm: PluginManager, idle: frozenset[str] = frozenset()) -> None:
        self._pm = pm
        self._hook = pm.hook
        self._idle = idle
        self._heard: dict[str, bool] = {}
        self._generation = -1
        self._queue: queue.SimpleQueue[Delivery | threading.Event | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._stuck: tuple[str, str, float] | None = None

    def heard(self, hook_name: str) -> bool:
        """Whether calling ``hook_name`` would reach a plugin that is not idle, or a monitor."""
        pm = self._pm
        if pm.monitored:
            return True
        if self._generation != pm.generation:
            self._heard, self._generation = {}, pm.generation
        known = self._heard.get(hook_name)
        if known is None:
            known = self._heard[hook_name] = bool(pm.implementers(hook_name) - self._idle)
        return known

    def send(self, job: Any, events: Sequence[Event], after: Callable[[], None] | None = None) -> None:
        """Queue ``events`` of ``job`` for delivery; then call ``after`` (on the hook thread).

        If no event would be heard (see :meth:`heard`) and nothing is queued,
        ``after`` is called at once instead.
        """
        if self._thread is None and not any(self.heard(name) for name, _ in events):
            if after is not None:
                after()
            return
        if self._closed:  # the provider is closed: there is nobody left to tell
            if after is not None:
                after()
            return
        if self._thread is None:
            self._start()
        self._queue.put((job, events, after))

    def on_hook_thread(self) -> bool:
        """Whether the caller is the hook thread itself (a hook calling back into its job)."""
        return self._thread is not None and threading.get_ident() == self._thread.ident

    def flush(self, timeout: float = HOOK_GRACE_SECONDS) -> bool:
        """Wait until everything sent so far was delivered; False if ``timeout`` passed first.

        Once a wait has timed out on a hook call, later waits return False at
        once for as long as that same call is still running: a blocked plugin
        costs one grace period, not one per wait.
        """
        if self._thread is None or self._closed or self.on_hook_thread():
            return True
        if self.is_stuck():
            return False
        marker = threading.Event()
        self._queue.put(marker)
        if marker.wait(timeout):
            return True
        self._note_stuck()
        return False

    def is_stuck(self) -> bool:
        """Whether a wait already timed out on the hook call that is still running now."""
        stuck = self._stuck
        thread = self._thread
        return stuck is not None and thread is not None and running_hook(thread.ident) == stuck

    def _note_stuck(self) -> None:
        thread = self._thread
        self._stuck = running_hook(thread.ident) if thread is not None else None

    def close(self, timeout: float = HOOK_GRACE_SECONDS) -> None:
        """Deliver what is queued (waiting at most ``timeout``), then stop the hook thread.

        If a plugin still blocks after ``timeout``, a warning names it and the
        thread is left behind (it is a daemon thread).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        if threading.get_ident() == thread.ident:
            return
        thread.join(0 if self.is_stuck() else timeout)
        if thread.is_alive():
            running = running_hook(thread.ident)
            who = (
                f"plugin {running[0]!r} has been in {running[1]} for {time.monotonic() - running[2]:.0f} s"
                if running is not None
                else "a plugin is still running"
            )
            warnings.warn(
                f"qdispatch stopped waiting for lifecycle hooks after {timeout:g} s: {who}",
                RuntimeWarning,
                stacklevel=3,
            )

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="qdispatch-hooks", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        hook = self._hook
        get = self._queue.get
        while True:
            item = get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            job, events, after = item
            try:
                for name, kwargs in events:
                    caller = getattr(hook, name, None)
                    if caller is not None:
                        caller(job=job, **kwargs)
            except Exception as exc:  # every implementation is guarded; this is pluggy itself failing
                warnings.warn(
                    f"qdispatch could not deliver lifecycle hooks: {exc}", RuntimeWarning, stacklevel=1
                )
            finally:
                if after is not None:
                    after()
                del item, job, events, after  # let go of the job while waiting for the next
