"""Checking a store against the contract: save/load round trip, listing, deleting, job ids, reopening."""

from __future__ import annotations

import inspect
import tempfile
import uuid
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from qdispatch.contract.probe import PROBE_BACKEND, SHOTS, _provider, _simulate, _with_probe, probe_circuits
from qdispatch.contract.report import ContractReport, Failure, Skip, _Checks, create_checked
from qdispatch.errors import (
    InvalidJobIdError,
    JobExistsError,
    JobNotFoundError,
    JobStateError,
)
from qdispatch.plugins import PluginManager, get_plugin_manager

if TYPE_CHECKING:
    from qdispatch.protocols import Store
    from qdispatch.records import JobRecord


STORE_CHECKS = (
    "create",
    "save and load",
    "replace",
    "other job, same id",
    "conditional save",
    "list",
    "delete",
    "job ids",
    "reopen",
    "persist/restore round trip",
)
"""The store checks, in the order they run."""


_RECORD_FIELDS = (
    "format_version",
    "job_id",
    "backend",
    "backend_options",
    "executor",
    "shots",
    "run_options",
    "chunks",
    "status",
    "created_at",
    "submitted_at",
    "finished_at",
    "error_message",
    "tags",
    "provenance",
)


def _differences(expected: JobRecord, actual: object) -> list[str]:
    """Return the names of the record fields that did not survive the store."""
    from qdispatch.records import JobRecord

    if not isinstance(actual, JobRecord):
        return [f"load() returned a {type(actual).__name__}, not a JobRecord"]
    wrong = [f for f in _RECORD_FIELDS if getattr(expected, f) != getattr(actual, f)]
    if list(expected.circuits) != list(actual.circuits):
        wrong.append("circuits")
    want = expected.result.get_counts() if expected.result is not None else None
    got = actual.result.get_counts() if actual.result is not None else None
    if want != got:
        wrong.append("result")
    return wrong


class _StoreChecks:
    def __init__(self, pm: PluginManager, name: str, options: Mapping[str, Any], timeout: float) -> None:
        self.pm, self.name, self.options, self.timeout = pm, name, dict(options), timeout
        self.store: Store | None = None
        self.saved: dict[str, JobRecord] = {}
        self.base = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
        self.prefix = f"contract-{uuid.uuid4().hex[:8]}"
        self.extra: set[str] = {f"{self.prefix}-never-saved"}
        """Ids the checks may have written besides :attr:`saved` (removed at the end, if there)."""

    def record(
        self,
        suffix: str,
        *,
        status: Any = None,
        backend: str = PROBE_BACKEND,
        tags: tuple[str, ...] = ("contract",),
        minutes: int = 0,
    ) -> JobRecord:
        import qiskit
        from qiskit.providers import JobStatus

        from qdispatch._version import qdispatch_version
        from qdispatch.circuits import CircuitBatch
        from qdispatch.records import ChunkRecord, JobRecord, Provenance

        circuits = probe_circuits(1, 2)
        created = self.base + timedelta(minutes=minutes)
        return JobRecord(
            job_id=f"{self.prefix}-{suffix}",
            backend=backend,
            backend_options={"seed_simulator": 1},
            executor="thread",
            shots=SHOTS,
            run_options={"memory": False},
            circuits=CircuitBatch(circuits),
            chunks=(ChunkRecord(start=0, stop=1, state={"remote_id": "r-1"}), ChunkRecord(start=1, stop=2)),
            status=status if status is not None else JobStatus.DONE,
            created_at=created,
            submitted_at=created + timedelta(seconds=1),
            finished_at=created + timedelta(seconds=2),
            result=_simulate(circuits, SHOTS),
            tags=tags,
            provenance=Provenance(
                qdispatch_version=qdispatch_version(),
                qiskit_version=qiskit.__version__,
                simulator="basic_simulator",
                simulator_version=qiskit.__version__,
                seed=1,
                noise_fingerprint="0" * 64,
            ),
        )

    def save(self, record: JobRecord) -> str:
        assert self.store is not None
        location = self.store.save(record)
        if not isinstance(location, str) or not location:
            raise Failure(f"save() returned {location!r}; it must return a location string")
        self.saved[record.job_id] = record
        return location

    def check_create(self) -> str:
        from qdispatch.protocols import Store

        self.store = create_checked(self.pm, "store", self.name, self.options, Store)
        held = self.store.list(limit=1)
        if held:
            store, self.store = self.store, None
            store.close()
            raise Failure(
                f"the store already holds jobs ({held[0].job_id!r}, ...); the checks list every job and "
                "write "
                "their own, so they run only on an empty store: give an empty path, or none for a "
                "temporary one"
            )
        return f"factory returned {type(self.store).__name__}"

    def check_save_load(self) -> str:
        assert self.store is not None
        record = self.record("first")
        location = self.save(record)
        wrong = _differences(record, self.store.load(record.job_id))
        if wrong:
            raise Failure(f"fields changed between save and load: {', '.join(wrong)}")
        return f"saved to {location!r} and loaded every field back"

    def check_replace(self) -> str:
        from qiskit.providers import JobStatus

        assert self.store is not None
        newer = attrs.evolve(
            self.saved[f"{self.prefix}-first"],
            status=JobStatus.ERROR,
            result=None,
            error_message="replaced by the contract check",
        )
        self.save(newer)
        wrong = _differences(newer, self.store.load(newer.job_id))
        if wrong:
            raise Failure(f"saving under an existing id did not replace the record ({', '.join(wrong)})")
        listed = [s.job_id for s in self.store.list()].count(newer.job_id)
        if listed != 1:
            raise Failure(f"after saving one id twice, list() shows it {listed} times")
        return "saving under the same id replaced the record"

    def conditional(self) -> bool:
        """Whether the store's ``save`` takes ``expected_status`` (compare and set)."""
        assert self.store is not None
        try:
            return "expected_status" in inspect.signature(self.store.save).parameters
        except (TypeError, ValueError):
            return False

    def check_other_job(self) -> str:
        assert self.store is not None
        if not self.conditional():
            raise Skip("save() takes no expected_status, so the store does not offer guarded writes")
        stored = self.saved[f"{self.prefix}-first"]
        intruder = attrs.evolve(stored, created_at=stored.created_at + timedelta(days=1), tags=("intruder",))
        try:
            self.store.save(intruder)
        except JobExistsError:
            pass
        else:
            raise Failure(
                "save() replaced a stored job with a different job (another created_at) under its id"
            )
        if _differences(stored, self.store.load(stored.job_id)):
            raise Failure("a refused save() of another job under the same id changed the stored record")
        return "saving a different job under a stored id raised JobExistsError and changed nothing"

    def check_conditional(self) -> str:
        from qiskit.providers import JobStatus

        assert self.store is not None
        if not self.conditional():
            raise Skip("save() takes no expected_status")
        stored = self.saved[f"{self.prefix}-first"]
        cancelled = attrs.evolve(stored, status=JobStatus.CANCELLED)
        try:
            self.store.save(cancelled, expected_status=JobStatus.RUNNING)  # type: ignore[call-arg]
        except JobStateError as exc:
            if stored.status.name not in str(exc):
                raise Failure(
                    f"JobStateError does not name the stored status {stored.status.name}: {exc}"
                ) from exc
        else:
            raise Failure("save(expected_status=RUNNING) overwrote a job whose stored status is not RUNNING")
        if _differences(stored, self.store.load(stored.job_id)):
            raise Failure("a refused conditional save() changed the stored record")
        self.store.save(cancelled, expected_status=stored.status)  # type: ignore[call-arg]
        self.saved[stored.job_id] = cancelled
        if _differences(cancelled, self.store.load(stored.job_id)):
            raise Failure("save(expected_status=<the stored status>) did not write the record")
        missing = attrs.evolve(stored, job_id=f"{self.prefix}-never-saved")
        try:
            self.store.save(missing, expected_status=stored.status)  # type: ignore[call-arg]
        except JobNotFoundError:
            pass
        else:
            self.saved[missing.job_id] = missing
            raise Failure(
                "save(expected_status=...) of a job that is not stored did not raise JobNotFoundError"
            )
        return "writes only while the stored status is the expected one; JobStateError names the one found"

    def check_list(self) -> str:
        from qiskit.providers import JobStatus

        assert self.store is not None
        for suffix, status, backend, tags, minutes in (
            ("a", JobStatus.DONE, "contract_a", ("t1",), 1),
            ("b", JobStatus.ERROR, "contract_b", ("t2",), 2),
            ("c", JobStatus.CANCELLED, "contract_a", ("t1", "t2"), 3),
            ("d", JobStatus.QUEUED, "contract_b", (), 4),
        ):
            self.save(self.record(suffix, status=status, backend=backend, tags=tags, minutes=minutes))
        newest_first = sorted(self.saved.values(), key=lambda r: r.created_at, reverse=True)
        cases: list[tuple[str, dict[str, Any], list[JobRecord]]] = [
            ("no filter", {}, newest_first),
            (
                "status=ERROR",
                {"status": JobStatus.ERROR},
                [r for r in newest_first if r.status is JobStatus.ERROR],
            ),
            ("backend", {"backend": "contract_a"}, [r for r in newest_first if r.backend == "contract_a"]),
            ("tag", {"tag": "t2"}, [r for r in newest_first if "t2" in r.tags]),
            ("limit=2", {"limit": 2}, newest_first[:2]),
            (
                "status and backend",
                {"status": JobStatus.DONE, "backend": "contract_a"},
                [r for r in newest_first if r.status is JobStatus.DONE and r.backend == "contract_a"],
            ),
        ]
        for label, filters, want in cases:
            got = self.store.list(**filters)
            if [s.job_id for s in got] != [r.job_id for r in want]:
                raise Failure(
                    f"list({label}) gave {[s.job_id for s in got]}, expected {[r.job_id for r in want]}"
                )
            for summary, record in zip(got, want, strict=True):
                if summary != record.summary():
                    raise Failure(f"list({label}): the summary of {record.job_id!r} differs from its record")
        return f"newest first, filtered by status, backend, tag and limit ({len(cases)} queries)"

    def check_delete(self) -> str:
        assert self.store is not None
        job_id = f"{self.prefix}-d"
        self.store.delete(job_id)
        del self.saved[job_id]
        for action, call in (("load", self.store.load), ("delete", self.store.delete)):
            try:
                call(job_id)
            except JobNotFoundError:
                continue
            raise Failure(f"{action}() of a deleted job did not raise JobNotFoundError")
        if job_id in [s.job_id for s in self.store.list()]:
            raise Failure("list() still shows a deleted job")
        return "deleted; load() and delete() then raise JobNotFoundError"

    def check_job_ids(self) -> str:
        assert self.store is not None
        bad_ids = ["../escape", "x' OR '1'='1", "", "a" * 500]
        for bad in bad_ids:
            for action, call in (
                ("load", self.store.load),
                ("delete", self.store.delete),
                ("save", lambda i: self.store.save(attrs.evolve(self.record("x"), job_id=i))),
            ):  # type: ignore[union-attr]
                try:
                    call(bad)
                except InvalidJobIdError:
                    continue
                except Exception as exc:
                    raise Failure(
                        f"{action}({bad[:20]!r}) raised {type(exc).__name__}, not InvalidJobIdError"
                    ) from exc
                raise Failure(f"{action}({bad[:20]!r}) was accepted; job ids must be validated")
        return f"{len(bad_ids)} unsafe ids refused by load, delete and save"

    def check_reopen(self) -> str:
        assert self.store is not None
        self.store.close()
        self.store = self.pm.create("store", self.name, self.options)
        for record in self.saved.values():
            wrong = _differences(record, self.store.load(record.job_id))
            if wrong:
                raise Failure(f"after reopening, {record.job_id!r} changed: {', '.join(wrong)}")
        listed = {s.job_id for s in self.store.list()}
        if listed != set(self.saved):
            raise Failure(f"after reopening, list() shows {sorted(listed)}, expected {sorted(self.saved)}")
        return f"a new instance read back all {len(self.saved)} records"

    def check_round_trip(self) -> str:
        from qiskit.providers import JobStatus

        from qdispatch.job import Job

        pm = _with_probe(self.pm)
        kwargs = {"executor": "thread", "store": self.name, "store_options": self.options}
        with _provider(pm, **kwargs) as provider:
            job = provider.get_backend(PROBE_BACKEND).run(probe_circuits(0, 3), shots=SHOTS)
            self.extra.add(job.job_id())
            counts = job.result(self.timeout).get_counts()
            job.persist()
        with _provider(pm, **kwargs) as provider:
            restored = Job.restore(job.job_id(), provider=provider, remove_from_store=True)
            if restored.resubmitted or restored.status() is not JobStatus.DONE:
                raise Failure("the finished job did not come back DONE without running again")
            if restored.result().get_counts() != counts or restored.circuits() != job.circuits():
                raise Failure("the restored job's circuits or counts differ from the original's")
            try:
                provider.store.load(job.job_id())
            except JobNotFoundError:
                return "job.persist() then Job.restore() gave back the same circuits and counts"
            raise Failure("Job.restore(remove_from_store=True) left the job in the store")

    def close(self) -> None:
        """Delete every record the checks wrote (the store may be a real one), then close it."""
        if self.store is None:
            return
        for job_id in sorted({*self.saved, *self.extra}):
            with suppress(Exception):
                self.store.delete(job_id)
        with suppress(Exception):
            self.store.close()


def check_store(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    timeout: float = 60.0,
    plugin_manager: PluginManager | None = None,
) -> ContractReport:
    """Check the store ``name`` against the contract; return what passed and failed.

    Checks, in order: ``create``, ``save and load`` (every record field comes
    back), ``replace`` (saving an id again replaces it), ``other job, same id``
    (``JobExistsError``, nothing changed), ``conditional save``
    (``save(record, expected_status=...)`` is a compare and set raising
    ``JobStateError``; both skipped for a store whose ``save`` takes no
    ``expected_status``), ``list`` (newest
    first; filters on status, backend, tag and limit), ``delete`` (then
    ``JobNotFoundError``), ``job ids`` (unsafe ids raise ``InvalidJobIdError``),
    ``reopen`` (a new instance reads what the first wrote) and
    ``persist/restore round trip`` (``job.persist()`` then ``Job.restore()``).

    :param name: the registered store name.
    :param options: options for its factory; when they give no ``path`` and
        the factory takes one, a fresh temporary path is used. The store must
        start empty (``create`` fails on one that holds jobs), and every record
        the checks wrote is deleted at the end.
    :param timeout: seconds the round trip's job may take.
    :param plugin_manager: where to look ``name`` up (default: the shared one).
    """
    pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
    registration = pm.registration("store", name)
    checks = _Checks()
    with tempfile.TemporaryDirectory(prefix="qdispatch-contract-", ignore_cleanup_errors=True) as work:
        opts = dict(options or {})
        takes_path = "path" in (registration.parameters() or {})
        if "path" not in opts and takes_path:
            opts["path"] = str(Path(work) / "store")
        run = _StoreChecks(pm, name, opts, timeout)
        try:
            checks.run_in_order(
                "store",
                [
                    ("create", run.check_create),
                    ("save and load", run.check_save_load),
                    ("replace", run.check_replace),
                    ("other job, same id", run.check_other_job),
                    ("conditional save", run.check_conditional),
                    ("list", run.check_list),
                    ("delete", run.check_delete),
                    ("job ids", run.check_job_ids),
                    ("reopen", run.check_reopen),
                    ("persist/restore round trip", run.check_round_trip),
                ],
            )
        finally:
            run.close()
    return ContractReport("store", name, tuple(checks.items))


# -- backends ---------------------------------------------------------------------
