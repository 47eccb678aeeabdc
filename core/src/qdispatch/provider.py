"""The provider: binds backends to an executor and a store, from configuration."""

from __future__ import annotations

import contextlib
import inspect
import threading
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from qiskit.providers import JobStatus
from qiskit.providers.exceptions import JobTimeoutError

from qdispatch.backend import Backend
from qdispatch.capabilities import circuit_checker, endpoint_options, guarded_save, resumable
from qdispatch.config import Settings, load_settings, unknown_plugin_names
from qdispatch.dispatch import HOOK_GRACE_SECONDS, HookDispatcher
from qdispatch.errors import (
    CredentialEndpointError,
    InvalidInputError,
    JobExistsError,
    JobNotFoundError,
    JobStateError,
    QDispatchError,
)
from qdispatch.jobids import new_job_id, validate_job_id
from qdispatch.plugins import PluginManager, check_options, get_plugin_manager
from qdispatch.records import utcnow
from qdispatch.validation import (
    positive_int,
    validate_circuits,
    validate_run_options,
    validate_shots,
    validate_tags,
)

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from qdispatch.job import Job
    from qdispatch.protocols import Executor, Store
    from qdispatch.records import JobRecord, JobSummary


class Provider:
    """Hands out backends whose jobs run on an executor and are kept in a store.

    Every argument left out comes from the configuration (file, then
    environment), then from the defaults: the ``thread`` executor and the
    ``sqlite`` store. Executors and stores are created on first use.

    :param executor: executor name (``thread``, ``process``, ``dask``, ...).
    :param executor_options: options for it, over the configured ones.
    :param store: store name (``sqlite``, ``file``, ...).
    :param store_options: options for it (``path``), over the configured ones.
    :param settings: settings to use instead of reading the configuration.
    :param config_path: configuration file to read instead of the default.
    :param plugin_manager: plugin manager to use instead of the shared one.
    """

    def __init__(
        self,
        executor: str | None = None,
        executor_options: Mapping[str, Any] | None = None,
        store: str | None = None,
        store_options: Mapping[str, Any] | None = None,
        *,
        settings: Settings | None = None,
        config_path: Path | str | None = None,
        plugin_manager: PluginManager | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings(config_path)
        self.plugin_manager = plugin_manager if plugin_manager is not None else get_plugin_manager()
        self.executor_name = executor or self.settings.executor
        self.store_name = store or self.settings.store
        self._executor_overrides = {self.executor_name: dict(executor_options or {})}
        self._store_options = {
            **self.settings.options_for("stores", self.store_name),
            **dict(store_options or {}),
        }
        check_options(
            self.plugin_manager.registration("executor", self.executor_name),
            self._executor_options(self.executor_name),
            lazily=True,
        )
        check_options(
            self.plugin_manager.registration("store", self.store_name), self._store_options, lazily=True
        )
        self._executors: dict[str, Executor] = {}
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._hooks = HookDispatcher(
            self.plugin_manager, idle=frozenset() if self.settings.autosave else frozenset({"autosave"})
        )
        self._warn_unknown_plugin_names()

    def _warn_unknown_plugin_names(self) -> None:
        """Warn about plugin names the configuration uses that no installed plugin offers."""
        if self.settings.source is None:
            return
        catalogue = self.plugin_manager.catalogue()
        available = {f"{kind}s": list(entries) for kind, entries in catalogue.items()}
        for message in unknown_plugin_names(self.settings, available):
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    def _executor_options(self, name: str) -> dict[str, Any]:
        return {**self.settings.options_for("executors", name), **self._executor_overrides.get(name, {})}

    # -- catalogue -----------------------------------------------------------------------

    def backends(self) -> list[str]:
        """Return the names of every backend the installed plugins offer."""
        return self.plugin_manager.names("backend")

    def executors(self) -> list[str]:
        """Return the names of every executor the installed plugins offer."""
        return self.plugin_manager.names("executor")

    def stores(self) -> list[str]:
        """Return the names of every store the installed plugins offer."""
        return self.plugin_manager.names("store")

    def get_backend(self, name: str, **options: Any) -> Backend:
        """Return the backend ``name`` built with ``options`` over the configured ones.

        :raises PluginNotFoundError: listing the available backends, for an unknown name.
        :raises ConfigurationError: for options the backend does not take.
        """
        self.plugin_manager.registration("backend", name)
        merged = {**self.settings.options_for("backends", name), **options}
        return Backend(self, self.plugin_manager.device(name, merged), name, merged)

    # -- executors and store ----------------------------------------------------------

    def executor(self, name: str | None = None) -> Executor:
        """Return the executor ``name`` (default: this provider's), created on first use."""
        name = name or self.executor_name
        with self._lock:
            executor = self._executors.get(name)
            if executor is None:
                executor = self.plugin_manager.create("executor", name, self._executor_options(name))
                self._executors[name] = executor
            return executor

    @property
    def store(self) -> Store:
        """The store jobs are persisted to, opened on first use."""
        with self._lock:
            if self._store is None:
                self._store = self.plugin_manager.create("store", self.store_name, self._store_options)
            return self._store

    def close(self) -> None:
        """Shut down the executors this provider started, deliver the last hooks and close its store.

        Running tasks finish first. Hooks still to be delivered are waited for
        at most :data:`~qdispatch.dispatch.HOOK_GRACE_SECONDS`; a plugin that
        blocks longer is named in a warning.
        """
        with self._lock:
            executors, self._executors = list(self._executors.values()), {}
        for executor in executors:
            executor.shutdown(wait=True)
        self._hooks.close(HOOK_GRACE_SECONDS)
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- jobs: the one owner of their lives -------------------------------------------------

    def submit(self, backend: Backend, run_input: Any, **options: Any) -> Job:
        """Validate circuits and options for ``backend``, then create and submit a job (``Backend.run``).

        Everything is checked before anything is handed to an executor: the
        circuits against the backend's target (and the device's own checks),
        shots, tags, run options (plain, storable values only) and the job id.

        :param options: ``shots``, ``tags``, ``max_circuits_per_task``, ``job_id``,
            and run options passed on to the device.
        :raises InvalidInputError: naming what is wrong.
        """
        job = self.prepare(backend, run_input, **options)
        job.submit()
        return job

    def prepare(self, backend: Backend, run_input: Any, **options: Any) -> Job:
        """Validate as :meth:`submit` does and return the job, not yet submitted (``job.submit()`` does).

        Lets a caller store the job, or listen to it, before any task runs: a
        simulator that holds the interpreter lock from its first moment cannot
        then delay the record.
        """
        device = backend.device
        circuits = validate_circuits(run_input, backend.target, backend.name)
        shots = validate_shots(options.pop("shots", backend.options.shots), device.max_shots, backend.name)
        tags = validate_tags(options.pop("tags", None))
        per_task = options.pop("max_circuits_per_task", None)
        job_id = options.pop("job_id", None)
        run_options = validate_run_options(options)
        if job_id is None:
            job_id = new_job_id()
        else:
            self._refuse_taken_id(validate_job_id(job_id))
        checker = circuit_checker(device)
        if checker is not None:
            checker.check_circuits(circuits, shots, run_options)
        return self._new_job(backend, circuits, shots, run_options, tags, per_task, job_id)

    def _refuse_taken_id(self, job_id: str) -> None:
        """Refuse a job id the store already holds: a new job must never replace a stored one."""
        try:
            self.store.load(job_id)
        except JobNotFoundError:
            return
        except QDispatchError:
            pass  # a damaged record still holds the id
        raise JobExistsError(
            job_id, f"job id {job_id!r} is already in the store; choose another (or restore that job)"
        )

    def _new_job(
        self,
        backend: Backend,
        circuits: Sequence[QuantumCircuit],
        shots: int,
        run_options: Mapping[str, Any],
        tags: Sequence[str],
        max_circuits_per_task: int | None,
        job_id: str,
        executor_name: str | None = None,
        created_at: datetime | None = None,
    ) -> Job:
        from qdispatch.job import Job

        per_task = (
            self.settings.max_circuits_per_task if max_circuits_per_task is None else max_circuits_per_task
        )
        positive_int("max_circuits_per_task", per_task)
        if backend.max_circuits is not None:
            per_task = min(per_task, backend.max_circuits)
        executor_name = executor_name or backend.executor_name
        return Job(
            backend,
            job_id,
            circuits,
            shots=shots,
            run_options=run_options,
            executor_name=executor_name,
            executor=self.executor(executor_name),
            provider=self,
            hooks=self._hooks,
            max_circuits_per_task=per_task,
            tags=tags,
            created_at=created_at,
        )

    def can_resume(self, record: JobRecord) -> bool:
        """Whether ``record`` is an unfinished job of a remote service that its executor can pick up again."""
        return record.remote and resumable(self.executor(record.executor)) is not None

    def restore(
        self,
        job_id: str,
        *,
        store: Store | None = None,
        remove_from_store: bool = False,
        resubmit: bool = False,
        backend_options: Mapping[str, Any] | None = None,
    ) -> Job:
        """Rebuild the stored job ``job_id`` in this process.

        A finished job comes back with its result, without running again. An
        unfinished job whose executor can resume it (a remote service) carries
        on with the same remote job, on the executor that submitted it; any
        other unfinished job is submitted again, with a warning, and
        ``job.resubmitted`` is True.

        :param store: the store to read (default: this provider's).
        :param remove_from_store: delete the record once read (default: keep it).
        :param resubmit: also run again a job stored as ERROR or CANCELLED.
        :param backend_options: backend options you vouch for, over the configured ones (an
            endpoint ``url`` given here is trusted as if configured).
        :raises JobNotFoundError: if the store has no job ``job_id``.
        :raises CredentialEndpointError: if the record names another endpoint than the configured one.
        """
        from qdispatch.job import warn_resubmitted

        source = store if store is not None else self.store
        record = source.load(validate_job_id(job_id))
        if resubmit and record.status in (JobStatus.ERROR, JobStatus.CANCELLED):
            record = attrs.evolve(
                record,
                status=JobStatus.QUEUED,
                result=None,
                error_message=None,
                finished_at=None,
                chunks=tuple(attrs.evolve(c, state={}) for c in record.chunks),
            )
        validate_shots(record.shots, 2**63, record.backend)
        backend = self._backend_for_record(record, backend_options or {})
        chunk_size = max((c.stop - c.start for c in record.chunks), default=len(record.circuits))
        remote = self.can_resume(record) if not record.finished else False
        job = self._new_job(
            backend,
            record.circuits,
            record.shots,
            record.run_options,
            record.tags,
            max(chunk_size, 1),
            record.job_id,
            executor_name=record.executor if remote else None,
            created_at=record.created_at,
        )
        if remove_from_store:
            source.delete(record.job_id)
        if record.finished:
            job._adopt_finished(record)
        else:
            states = [dict(c.state) for c in record.chunks]
            resumable = remote and len(states) == len(job._life.chunks)
            job._resume(states if resumable else None, record)
            if not resumable:
                warn_resubmitted(job, record.status)
        job._announce_restored()
        return job

    def _backend_for_record(self, record: JobRecord, vouched: Mapping[str, Any]) -> Backend:
        """Build the backend a record names, refusing a record that redirects the user's credentials.

        Options that say where credentials go (a device's ``endpoint_options``,
        such as AQT's ``url``) must equal the ones configured now.
        """
        registration = self.plugin_manager.registration("backend", record.backend)
        configured = {**self.settings.options_for("backends", record.backend), **vouched}
        defaults = registration.parameters() or {}
        for option in sorted(endpoint_options(registration.resolve())):
            if option not in record.backend_options:
                continue
            parameter = defaults.get(option)
            default = parameter.default if parameter is not None else None
            expected = configured.get(option, None if default is inspect.Parameter.empty else default)
            stored = record.backend_options[option]
            if stored != expected:
                configured_for = "the backend's default" if expected is None else repr(expected)
                raise CredentialEndpointError(
                    f"job {record.job_id!r} names {option} {stored!r} for backend {record.backend!r}, but "
                    f"your credentials are configured for {configured_for}; qdispatch will not send them "
                    f"elsewhere. If you trust that endpoint, set '{option}' under "
                    f"[backends.{record.backend}] "
                    "in your configuration"
                )
        return self.get_backend(record.backend, **{**record.backend_options, **vouched})

    def job(self, job_id: str) -> Job:
        """Return the stored job ``job_id`` (kept in the store), resumed if unfinished."""
        return self.restore(job_id)

    def cancel(self, job: Job | str) -> bool:
        """Cancel a job, given as a handle or by the id of a stored job; return True if it will not run.

        A job this process holds is stopped through its executor. A stored,
        unfinished job is cancelled on its remote service when its executor
        can resume it (then stored in its new state); otherwise its record is
        marked CANCELLED, only if nobody finished it meanwhile.

        :raises JobNotFoundError: for an unknown id.
        :raises JobStateError: if the stored job has already finished.
        """
        from qdispatch.job import Job

        if isinstance(job, Job):
            return job.cancel()
        record = self.store.load(validate_job_id(job))
        if record.finished:
            raise JobStateError(
                record.job_id, f"job {record.job_id} already ended {record.status.name}; nothing to cancel"
            )
        if self.can_resume(record):
            handle = self.restore(record.job_id)
            cancelled = handle.cancel()
            if cancelled:
                with contextlib.suppress(JobTimeoutError):
                    handle.wait_for_final_state(timeout=HOOK_GRACE_SECONDS, wait=0.2)
            handle.persist()
            return cancelled
        self._mark_cancelled(record)
        return True

    def _mark_cancelled(self, record: JobRecord) -> None:
        """Store ``record`` as CANCELLED, unless it changed status meanwhile (compare-and-set).

        :raises JobStateError: naming the status found, if another process moved the job on.
        """
        cancelled = attrs.evolve(record, status=JobStatus.CANCELLED, finished_at=utcnow())
        save = guarded_save(self.store)
        if save is not None:
            save(cancelled, expected_status=record.status)
        else:
            self.store.save(cancelled)

    def jobs(
        self,
        status: JobStatus | str | None = None,
        backend: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> list[JobSummary]:
        """List stored jobs, newest first.

        :param status: only jobs in this status (a ``JobStatus`` or its name).
        :param backend: only jobs of this backend.
        :param tag: only jobs carrying this tag.
        :param limit: at most this many.
        """
        if isinstance(status, str):
            try:
                status = JobStatus[status.upper()]
            except KeyError:
                names = ", ".join(s.name for s in JobStatus)
                raise InvalidInputError(f"unknown status {status!r}; use one of {names}") from None
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise InvalidInputError(f"limit must be a non-negative integer, not {limit!r}")
        return self.store.list(status=status, backend=backend, tag=tag, limit=limit)
