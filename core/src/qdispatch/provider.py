"""The provider: binds backends to an executor and a store, from configuration."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qiskit.providers import JobStatus

from qdispatch.backend import Backend
from qdispatch.config import Settings, load_settings
from qdispatch.errors import InvalidInputError
from qdispatch.plugins import PluginManager, check_options, get_plugin_manager
from qdispatch.validation import validate_positive_int

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
        check_options(self.plugin_manager.registration("executor", self.executor_name), self._executor_options(self.executor_name))
        check_options(self.plugin_manager.registration("store", self.store_name), self._store_options)
        self._executors: dict[str, Executor] = {}
        self._store: Store | None = None
        self._lock = threading.Lock()

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
        """Shut down the executors this provider started and close its store."""
        with self._lock:
            executors, self._executors = list(self._executors.values()), {}
            store, self._store = self._store, None
        for executor in executors:
            executor.shutdown(wait=True)
        if store is not None:
            store.close()

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- jobs ------------------------------------------------------------------------------

    def new_job(
        self,
        backend: Backend,
        circuits: Sequence[QuantumCircuit],
        *,
        shots: int,
        run_options: Mapping[str, Any],
        tags: Sequence[str],
        max_circuits_per_task: int | None,
        job_id: str,
        executor_name: str | None = None,
    ) -> Job:
        """Make an unsubmitted job for ``backend`` (``Backend.run`` calls this).

        :param executor_name: the executor to use instead of the backend's.
        """
        from qdispatch.job import Job

        per_task = self.settings.max_circuits_per_task if max_circuits_per_task is None else max_circuits_per_task
        validate_positive_int("max_circuits_per_task", per_task)
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
            max_circuits_per_task=per_task,
            tags=tags,
        )

    def can_resume(self, record: JobRecord) -> bool:
        """Whether ``record`` is an unfinished job of a remote service that its executor can pick up again."""
        return record.remote and hasattr(self.executor(record.executor), "resume")

    def job_from_record(self, record: JobRecord) -> Job:
        """Rebuild the job handle of ``record``, not yet resumed (``Job.restore`` does that).

        A job that a remote service was running is bound to the executor that
        submitted it, so it can resume polling; any other job to this
        provider's executor for its backend.
        """
        backend = self.get_backend(record.backend, **record.backend_options)
        chunk_size = max((c.stop - c.start for c in record.chunks), default=len(record.circuits))
        job = self.new_job(
            backend,
            record.circuits,
            shots=record.shots,
            run_options=record.run_options,
            tags=record.tags,
            max_circuits_per_task=max(chunk_size, 1),
            job_id=record.job_id,
            executor_name=record.executor if record.remote else None,
        )
        return job

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

    def job(self, job_id: str) -> Job:
        """Return the stored job ``job_id`` (kept in the store), resumed if unfinished."""
        from qdispatch.job import Job

        return Job.restore(job_id, store=self.store, remove_from_store=False, provider=self)
