"""The ``sqlite`` store (the default): one SQLite database in WAL mode.

Listing reads indexed columns only, so filtering thousands of jobs by status
or backend never decodes a record; a row whose indexed columns are damaged is
skipped with a warning, and a damaged record raises
:class:`~qdispatch.errors.JobCorruptError` only when it is loaded. Every
statement is parameterised. A busy database is retried for up to ``timeout``
seconds before a clear :class:`~qdispatch.errors.StoreError`. A file that is
not a database, or another program's database, is refused before anything in
it is changed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from qiskit.providers import JobStatus

from qdispatch.config import default_data_dir
from qdispatch.errors import (
    InvalidOptionError,
    JobExistsError,
    JobNotFoundError,
    JobStateError,
    StoreConfigurationError,
    StoreError,
)
from qdispatch.hookspecs import hookimpl
from qdispatch.jobids import validate_job_id
from qdispatch.records import JobSummary
from qdispatch.serialization import decode_record, encode_record
from qdispatch.stores.paths import (
    FILE_MODE,
    MAX_RECORD_BYTES,
    private_directory,
    private_file,
    store_path,
    writable,
)
from qdispatch.validation import positive_number

if TYPE_CHECKING:
    from qdispatch.plugins import Register
    from qdispatch.records import JobRecord

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    backend TEXT NOT NULL,
    executor TEXT NOT NULL,
    created_at TEXT NOT NULL,
    num_circuits INTEGER NOT NULL,
    shots INTEGER NOT NULL,
    tags TEXT NOT NULL,
    record TEXT NOT NULL
);
-- Listing indexes cover every column a summary needs, so a filtered listing
-- never reads the table rows (each holds a record of several kilobytes).
DROP INDEX IF EXISTS jobs_status;
DROP INDEX IF EXISTS jobs_backend;
CREATE INDEX IF NOT EXISTS jobs_status_listing
    ON jobs (status, created_at, job_id, backend, executor, num_circuits, shots, tags);
CREATE INDEX IF NOT EXISTS jobs_backend_listing
    ON jobs (backend, created_at, job_id, status, executor, num_circuits, shots, tags);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
"""
"""The table and its indexes (status, backend, creation time), created if missing."""
COLUMNS = frozenset(
    {"job_id", "status", "backend", "executor", "created_at", "num_circuits", "shots", "tags", "record"}
)
"""The columns of the ``jobs`` table; a database whose table has others belongs to another program."""


class SqliteStore:
    """Keeps jobs in one SQLite file (mode 0600, in a 0700 directory).

    :param path: the database file (default: ``jobs.sqlite`` in the user data directory).
    :param timeout: seconds to keep retrying while another writer holds the database.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, timeout: float = 30.0) -> None:
        timeout = positive_number("timeout", timeout, owner="store 'sqlite'")
        if timeout > MAX_TIMEOUT:
            raise InvalidOptionError(
                f"option 'timeout' of store 'sqlite' must be at most {MAX_TIMEOUT:g} seconds, not {timeout:g}"
            )
        self.path = _database_path(path) if path is not None else default_data_dir() / "jobs.sqlite"
        self.timeout = float(timeout)
        private_directory(self.path.parent)
        self.read_only = self.path.is_file() and not (
            os.access(self.path, os.W_OK) and writable(self.path.parent)
        )
        if not self.read_only:
            private_file(self.path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._refuse_foreign_database()
        if not self.read_only:
            self._retry(lambda db: db.executescript(SCHEMA))
            self._tighten_side_files()

    def _refuse_foreign_database(self) -> None:
        """Raise if the file is not a database, or is another program's, before changing anything in it.

        Only reads: switching to WAL (which every store connection does) would
        rewrite the header of a database that is not ours.
        """
        try:
            with closing(self._connect(self.timeout)) as db:
                columns = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                raise self._locked_error() from exc
            raise StoreError(f"sqlite store {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"sqlite store {self.path} is damaged or not a database: {exc}") from exc
        if self.read_only and not columns:
            raise StoreError(
                f"{self.path} is read-only and holds no qdispatch jobs table; choose another path"
            )
        if columns and columns != COLUMNS:
            raise StoreError(
                f"{self.path} is not a qdispatch job store: its 'jobs' table has the columns "
                f"{', '.join(sorted(columns))}; choose another path"
            )

    def _connect(self, timeout: float) -> sqlite3.Connection:
        """Open the database, read-only (``mode=ro``) when this process cannot write it."""
        if not self.read_only:
            return sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        if not (Path(f"{self.path}-shm").exists() or writable(self.path.parent)):
            uri += "&immutable=1"  # WAL needs a -shm file it could create; nothing can write here anyway
        return sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False)

    def _db(self) -> sqlite3.Connection:
        """Return this thread's connection, opening it (in WAL mode) on first use.

        Errors propagate as ``sqlite3`` errors so that :meth:`_retry` can wait
        out a busy database (switching to WAL needs a lock) or report a damaged one.
        """
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect(min(self.timeout, 5.0))
            if not self.read_only:
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute("PRAGMA synchronous=FULL")
                except BaseException:
                    db.close()
                    raise
                self._tighten_side_files()
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    def _tighten_side_files(self) -> None:
        """Make the ``-wal`` and ``-shm`` files owner-only, as the database is."""
        for suffix in ("-wal", "-shm"):
            side = Path(f"{self.path}{suffix}")
            try:
                if side.stat().st_mode & 0o077:
                    os.chmod(side, FILE_MODE)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError(f"cannot restrict {side} to its owner: {exc.strerror or exc}") from exc

    def _retry(self, action: Callable[[sqlite3.Connection], T]) -> T:
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                return action(self._db())
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise StoreError(f"sqlite store {self.path}: {exc}{_hint(exc)}") from exc
                if time.monotonic() >= deadline:
                    raise self._locked_error() from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"sqlite store {self.path} is damaged or not a database: {exc}") from exc

    def _locked_error(self) -> StoreError:
        return StoreError(
            f"sqlite store {self.path} stayed locked by another writer for "
            f"{self.timeout:g} s; try again, or raise the store's timeout option"
        )

    def save(self, record: JobRecord, *, expected_status: JobStatus | None = None) -> str:
        """Insert ``record``, or replace the stored state of the same job; return ``<path>#<job id>``.

        The stored row is replaced only if it has the same creation time (the
        same job), in one statement, so two writers cannot both win.

        :param expected_status: if given, write only if the stored record of
            this job still has this status (compare and set).
        :raises JobExistsError: if another job is stored under this id.
        :raises JobStateError: if ``expected_status`` is given and the stored status differs.
        :raises JobNotFoundError: if ``expected_status`` is given and nothing is stored.
        :raises StoreError: if the database is read-only or the disk is full.
        """
        text = encode_record(record)
        if len(text) > MAX_RECORD_BYTES:
            raise StoreError(
                f"job {record.job_id!r} is {len(text)} bytes encoded, more than the "
                f"{MAX_RECORD_BYTES}-byte limit of a stored record; split it into smaller jobs"
            )
        if self.read_only:
            raise StoreError(
                f"cannot save job {record.job_id!r}: the sqlite store {self.path} is read-only; "
                f"make it (and its directory) writable or choose another store path"
            )
        values = (
            record.status.name,
            record.backend,
            record.executor,
            len(record.circuits),
            record.shots,
            json.dumps(list(record.tags)),
            text,
        )
        job_id = validate_job_id(record.job_id)
        created = record.created_at.isoformat()

        def write(db: sqlite3.Connection) -> int:
            if expected_status is None:
                return db.execute(
                    "INSERT INTO jobs (status, backend, executor, num_circuits, shots, tags, record, "
                    "job_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(job_id) DO UPDATE SET status = excluded.status, backend = excluded.backend, "
                    "executor = excluded.executor, num_circuits = excluded.num_circuits, "
                    "shots = excluded.shots, tags = excluded.tags, record = excluded.record "
                    "WHERE jobs.created_at = excluded.created_at",
                    (*values, job_id, created),
                ).rowcount
            return db.execute(
                "UPDATE jobs SET status = ?, backend = ?, executor = ?, num_circuits = ?, shots = ?, "
                "tags = ?, record = ? WHERE job_id = ? AND created_at = ? AND status = ?",
                (*values, job_id, created, expected_status.name),
            ).rowcount

        if self._retry(write) == 0:
            self._refuse(record, expected_status)
        return f"{self.path}#{record.job_id}"

    def _refuse(self, record: JobRecord, expected_status: JobStatus | None) -> None:
        """Raise the error that says why a save changed no row."""
        where = f"the sqlite store {self.path}"
        row = self._retry(
            lambda db: db.execute(
                "SELECT created_at, status FROM jobs WHERE job_id = ?", (record.job_id,)
            ).fetchone()
        )
        if row is None:
            raise JobNotFoundError(record.job_id, where)
        if row[0] != record.created_at.isoformat():
            raise JobExistsError(
                record.job_id,
                f"job {record.job_id!r} already exists in {where} (created {row[0]}, this one "
                f"{record.created_at.isoformat()}); choose another job id or delete the stored job first",
            )
        expected = expected_status.name if expected_status is not None else "?"
        raise JobStateError(
            record.job_id,
            f"job {record.job_id!r} is {row[1]} in {where}, not {expected}: "
            f"it changed since it was read, so it was left as it is",
        )

    def load(self, job_id: str) -> JobRecord:
        """Read the record of ``job_id``."""
        validate_job_id(job_id)
        row = self._retry(
            lambda db: db.execute("SELECT record FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        )
        if row is None:
            raise JobNotFoundError(job_id, f"the sqlite store {self.path}")
        return decode_record(row[0], job_id)

    def delete(self, job_id: str) -> None:
        """Remove the record of ``job_id``."""
        validate_job_id(job_id)
        if self.read_only:
            raise StoreError(f"cannot delete job {job_id!r}: the sqlite store {self.path} is read-only")
        count = self._retry(lambda db: db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,)).rowcount)
        if count == 0:
            raise JobNotFoundError(job_id, f"the sqlite store {self.path}")

    def list(
        self,
        *,
        status: JobStatus | None = None,
        backend: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> list[JobSummary]:
        """Return summaries of stored jobs, newest first, from indexed columns only."""
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            clauses.append("status = ?")
            params.append(status.name)
        if backend is not None:
            clauses.append("backend = ?")
            params.append(backend)
        if tag is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE json_each.value = ?)")
            params.append(tag)
        sql = "SELECT job_id, status, backend, executor, created_at, num_circuits, shots, tags FROM jobs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY created_at DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._retry(lambda db: db.execute(sql, params).fetchall())
        summaries = []
        for row in rows:
            try:
                summaries.append(_summary(row))
            except (KeyError, ValueError, TypeError, RecursionError) as exc:
                warnings.warn(
                    f"skipped unreadable row of job {row[0]!r} in {self.path}: {type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return summaries

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            connections, self._connections = self._connections, []
        for db in connections:
            db.close()
        self._local = threading.local()


MAX_TIMEOUT = 86400.0
"""The longest ``timeout`` accepted (one day): a longer wait is a mistake, not a plan."""


def _database_path(value: object) -> Path:
    """Check the configured database path: ``~`` expanded; ``:memory:`` and URIs refused."""
    path = store_path(value, "sqlite")
    text = os.fspath(value)  # type: ignore[call-overload]
    if text.strip() == ":memory:" or text.startswith("file:"):
        raise StoreConfigurationError(
            f"sqlite store option 'path' is {text!r}: an in-memory database or SQLite URI keeps "
            f"nothing between commands and threads; give the path of a database file"
        )
    return path


def _hint(exc: sqlite3.OperationalError) -> str:
    """Say what to do about a write SQLite refused, where a person can fix the cause."""
    text = str(exc)
    if "full" in text or "disk I/O" in text:
        return (
            " (the disk is full or a file-size limit was reached: free space or raise the limit "
            "(ulimit -f) and save again; the stored record is unchanged)"
        )
    if "readonly" in text or "read-only" in text:
        return " (the database is read-only: make it and its directory writable)"
    return ""


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Whether ``exc`` says another connection holds the database (worth waiting for)."""
    return "locked" in str(exc) or "busy" in str(exc)


def _summary(row: tuple[Any, ...]) -> JobSummary:
    """Build a summary from the indexed columns of one row (raising on damaged values)."""
    tags = [] if row[7] == "[]" else json.loads(row[7])  # most jobs have no tags: skip the parser
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError(f"tags column is not a list of strings: {row[7]!r}")
    for index in (5, 6):
        if type(row[index]) is not int:  # sqlite3 gives plain ints; a bool or a float is damage
            raise TypeError(f"column {index} is not an integer: {row[index]!r}")
    return JobSummary(
        job_id=validate_job_id(row[0]),
        status=JobStatus[row[1]],
        backend=str(row[2]),
        executor=str(row[3]),
        created_at=_aware(datetime.fromisoformat(row[4])),
        num_circuits=row[5],
        shots=row[6],
        tags=tuple(tags),
    )


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"created_at {moment.isoformat()!r} has no timezone")
    return moment


@hookimpl
def register_stores(register: Register) -> None:
    """Register the ``sqlite`` store."""
    register("sqlite", SqliteStore)
