"""The ``autosave`` plugin: every status change of a job is written to its provider's store.

Switched on by ``autosave = true`` in the configuration file (or
``QDISPATCH_AUTOSAVE=true``); otherwise it does nothing. With it on, a program
that crashes leaves its jobs in the store, where ``Provider().jobs()`` lists
them and ``Job.restore`` picks them up: finished ones with their result,
unfinished ones submitted again.

Each job's saves are serialised and every save takes a fresh snapshot of the
job, so the store never ends up with an older state than the job reached.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from qdispatch.hookspecs import hookimpl

if TYPE_CHECKING:
    from qiskit.providers import JobStatus

    from qdispatch.job import Job

_locks: weakref.WeakKeyDictionary[Job, threading.RLock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def enabled(job: Job) -> bool:
    """Return whether the configuration of ``job``'s provider switches autosave on."""
    return bool(job.provider.settings.autosave)


def _lock_for(job: Job) -> threading.RLock:
    with _locks_guard:
        lock = _locks.get(job)
        if lock is None:
            lock = _locks[job] = threading.RLock()
        return lock


def save(job: Job) -> None:
    """Write a fresh record of ``job`` to its provider's store (if autosave is on).

    The lock is re-entrant because taking the snapshot (``job.to_record()``)
    can itself move the job on and call this hook again in the same thread;
    the inner, newer save then comes first and the outer one repeats it.
    """
    if not enabled(job):
        return
    with _lock_for(job):
        job.provider.store.save(job.to_record())


@hookimpl
def job_status_changed(job: Job, old: JobStatus, new: JobStatus) -> None:
    """Save ``job`` after each status change."""
    save(job)


@hookimpl
def job_finished(job: Job) -> None:
    """Save ``job`` once it reached DONE, ERROR or CANCELLED (with its result or error)."""
    save(job)
