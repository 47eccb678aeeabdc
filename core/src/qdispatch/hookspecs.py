"""The hooks a qdispatch plugin may implement.

A plugin is a module (or object) named by an entry point in the ``qdispatch``
group; its functions marked with :data:`qdispatch.hookimpl` implement these
hooks. Registration hooks are called once, when the plugin manager builds its
catalogue. Lifecycle hooks are called for every job, through pluggy
(``pm.hook.job_finished(job=...)``), so pluggy's rules hold: implementations
run newest first, ``tryfirst``/``trylast`` move them, ``wrapper=True`` and
``hookwrapper=True`` implementations wrap the others, and
``add_hookcall_monitoring`` sees every call. They run on the provider's own
hook thread, in the order the job changed, never on an executor's worker. If
an implementation raises (even ``SystemExit``), qdispatch warns naming the
plugin, the job is unchanged, and the other implementations are still called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from qiskit.providers import JobStatus

    from qdispatch.job import Job, Progress
    from qdispatch.plugins import Register

hookspec = pluggy.HookspecMarker("qdispatch")
"""Marks a function below as a hook specification."""


@hookspec
def register_backends(register: Register) -> None:
    """Offer backends (simulators or remote devices) by name.

    :param register: call ``register(name, factory)``; ``factory(**options)``
        returns a :class:`qdispatch.Device`. Import heavy libraries inside the
        factory so that listing backends stays fast.
    """


@hookspec
def register_executors(register: Register) -> None:
    """Offer executors by name.

    :param register: call ``register(name, factory)``; ``factory(**options)``
        returns a :class:`qdispatch.Executor`.
    """


@hookspec
def register_stores(register: Register) -> None:
    """Offer persistence backends by name.

    :param register: call ``register(name, factory)``; ``factory(**options)``
        returns a :class:`qdispatch.Store`.
    """


@hookspec
def job_created(job: Job) -> None:
    """Called when a job handle is made, before it is submitted.

    :param job: the new job; its status is ``INITIALIZING``.
    """


@hookspec
def job_submitted(job: Job) -> None:
    """Called after every task of ``job`` was handed to its executor.

    :param job: the job just submitted.
    """


@hookspec
def job_status_changed(job: Job, old: JobStatus, new: JobStatus) -> None:
    """Called after ``job`` moved from status ``old`` to ``new``.

    :param job: the job whose status changed.
    :param old: the status before.
    :param new: the status now.
    """


@hookspec
def job_progress(job: Job, progress: Progress) -> None:
    """Called when more circuits of ``job`` have finished.

    :param job: the job that moved.
    :param progress: ``Progress(finished_count, total_count)``, counted per circuit.
    """


@hookspec
def job_finished(job: Job) -> None:
    """Called once when ``job`` reached DONE, ERROR or CANCELLED.

    :param job: the finished job; ``job.status()`` tells which end it reached.
    """


@hookspec
def job_persisted(job: Job, location: str) -> None:
    """Called after ``job`` was written to a store.

    :param job: the job saved.
    :param location: where the store put it (a file path, or ``sqlite:PATH#ID``).
    """


@hookspec
def job_restored(job: Job) -> None:
    """Called after ``job`` was rebuilt from a store by ``Job.restore``.

    :param job: the restored job (already resumed or re-submitted if unfinished).
    """


hookimpl = pluggy.HookimplMarker("qdispatch")
"""Marks a plugin's function as an implementation of one of the hooks above."""
