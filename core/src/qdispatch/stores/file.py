"""The ``file`` store: one JSON file per job in a directory, written atomically."""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from qdispatch.config import default_data_dir
from qdispatch.errors import (
    InvalidJobIdError,
    JobCorruptError,
    JobError,
    JobExistsError,
    JobNotFoundError,
    JobStateError,
    StoreError,
)
from qdispatch.hookspecs import hookimpl
from qdispatch.jobids import validate_job_id
from qdispatch.serialization import decode_record, encode_record, summary_from_data
from qdispatch.stores.paths import (
    FILE_MODE,
    MAX_RECORD_BYTES,
    UnreadableFileError,
    private_directory,
    read_regular_file,
    store_path,
    writable,
    write_hint,
)

if TYPE_CHECKING:
    from qiskit.providers import JobStatus

    from qdispatch.plugins import Register
    from qdispatch.records import JobRecord, JobSummary

SUFFIX = ".json"
"""The suffix of a record file; the name before it is the job id."""
TEMPORARY_PREFIX = ".qdispatch-"
TEMPORARY_SUFFIX = ".tmp"
"""A save writes ``.qdispatch-<job id>-<32 hex digits>.tmp`` and renames it over the record."""
TEMPORARY_PATTERN = re.compile(r"\.qdispatch-[A-Za-z0-9._-]+-[0-9a-f]{32}\.tmp")
"""The names of temporary files qdispatch writes; no other file is ever removed."""
LOCK_NAME = ".qdispatch.lock"
"""The lock file a save holds while it checks the stored record and replaces it."""
STALE_TEMPORARY_SECONDS = 3600.0
"""Age after which a temporary file left by a killed writer is removed (by the next save)."""


class FileStore:
    """Keeps each job as ``<directory>/<job id>.json``, mode 0600, in a 0700 directory.

    A save writes a temporary file, fsyncs it, renames it over the old record
    and fsyncs the directory, so a record is either the old one or the new one,
    never half-written. Saves hold a lock file while they check what is stored
    (refusing to replace a different job under the same id) and replace it.
    A read-only directory can be listed and loaded from; saving to it fails.

    :param path: the directory (default: ``jobs/`` in the user data directory).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        directory = store_path(path, "file") if path is not None else default_data_dir() / "jobs"
        self.path = private_directory(directory)
        self._cleaned = False
        if writable(self.path):
            self._remove_stale_temporaries()

    def _remove_stale_temporaries(self) -> None:
        """Delete qdispatch's own temporary files left by a writer that died mid-save, once they are old.

        Only names qdispatch writes (:data:`TEMPORARY_PATTERN`), regular files
        owned by this user, older than :data:`STALE_TEMPORARY_SECONDS`, are
        removed: a fresh one may belong to a save in progress elsewhere.
        """
        self._cleaned = True
        cutoff = time.time() - STALE_TEMPORARY_SECONDS
        for leftover in self.path.glob(f"{TEMPORARY_PREFIX}*{TEMPORARY_SUFFIX}"):
            if not TEMPORARY_PATTERN.fullmatch(leftover.name):
                continue
            try:
                info = leftover.lstat()
                if info.st_uid == os.geteuid() and leftover.is_file() and info.st_mtime < cutoff:
                    leftover.unlink()
            except OSError:
                continue  # another process removed or renamed it first

    def _file(self, job_id: str) -> Path:
        return self.path / f"{validate_job_id(job_id)}{SUFFIX}"

    def _require_writable(self, action: str, job_id: str) -> None:
        if not writable(self.path):
            raise StoreError(
                f"cannot {action} job {job_id!r}: the file store at {self.path} is read-only; "
                f"make the directory writable (chmod u+w) or choose another store path"
            )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the store's lock file (shared by every process saving to this directory)."""
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _stored_summary(self, target: Path, job_id: str) -> JobSummary | None:
        """Return the summary of the stored record at ``target``, ``None`` if there is none."""
        try:
            data = read_regular_file(target, MAX_RECORD_BYTES)
        except FileNotFoundError:
            return None
        except UnreadableFileError as exc:
            raise JobCorruptError(job_id, f"job {job_id!r}: {exc}") from None
        except OSError as exc:
            raise StoreError(f"cannot read job {job_id!r} from {self.path}: {exc.strerror or exc}") from exc
        try:
            return summary_from_data(json.loads(data), job_id)
        except (ValueError, RecursionError) as exc:
            raise JobCorruptError(job_id, f"job {job_id!r}: stored record is not valid JSON") from exc

    def _check_replace(self, record: JobRecord, target: Path, expected_status: JobStatus | None) -> None:
        where = f"the file store at {self.path}"
        try:
            stored = self._stored_summary(target, record.job_id)
        except JobCorruptError:
            if expected_status is not None:
                raise
            return  # a damaged record under this id is replaced by a good one
        if stored is None:
            if expected_status is not None:
                raise JobNotFoundError(record.job_id, where)
            return
        if stored.created_at != record.created_at:
            raise JobExistsError(
                record.job_id,
                f"job {record.job_id!r} already exists in {where} (created {stored.created_at.isoformat()}, "
                f"this one {record.created_at.isoformat()}); choose another job id or delete the stored "
                "job first",
            )
        if expected_status is not None and stored.status is not expected_status:
            raise JobStateError(
                record.job_id,
                f"job {record.job_id!r} is {stored.status.name} in {where}, not {expected_status.name}: "
                f"it changed since it was read, so it was left as it is",
            )

    def save(self, record: JobRecord, *, expected_status: JobStatus | None = None) -> str:
        """Write ``record`` atomically; return its file path.

        Saving a newer state of a stored job replaces it; a stored job with
        the same id but another creation time is never replaced.

        :param expected_status: if given, write only if the stored record of
            this job still has this status (compare and set).
        :raises JobExistsError: if another job is stored under this id.
        :raises JobStateError: if ``expected_status`` is given and the stored status differs.
        :raises JobNotFoundError: if ``expected_status`` is given and nothing is stored.
        :raises StoreError: if the directory is read-only, or the disk is full.
        """
        target = self._file(record.job_id)
        data = encode_record(record).encode("utf-8")
        if len(data) > MAX_RECORD_BYTES:
            raise StoreError(
                f"job {record.job_id!r} is {len(data)} bytes encoded, more than the "
                f"{MAX_RECORD_BYTES}-byte limit of a stored record; split it into smaller jobs"
            )
        self._require_writable("save", record.job_id)
        temporary = self.path / f"{TEMPORARY_PREFIX}{record.job_id}-{secrets.token_hex(16)}{TEMPORARY_SUFFIX}"
        try:
            with self._locked():
                self._check_replace(record, target, expected_status)
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
                try:
                    os.fchmod(fd, FILE_MODE)
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(temporary, target)
                directory = os.open(self.path, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise StoreError(
                f"cannot write job {record.job_id!r} to {self.path}: {exc.strerror or exc}"
                f"{write_hint(exc)}; the stored record (if any) is unchanged"
            ) from exc
        if not self._cleaned:
            self._remove_stale_temporaries()
        return str(target)

    def load(self, job_id: str) -> JobRecord:
        """Read the record of ``job_id``."""
        path = self._file(job_id)
        try:
            data = read_regular_file(path, MAX_RECORD_BYTES)
        except FileNotFoundError:
            raise JobNotFoundError(job_id, f"the file store at {self.path}") from None
        except UnreadableFileError as exc:
            raise JobCorruptError(job_id, f"job {job_id!r}: {exc}") from None
        except OSError as exc:
            raise StoreError(f"cannot read job {job_id!r} from {self.path}: {exc.strerror or exc}") from exc
        return decode_record(data, job_id)

    def delete(self, job_id: str) -> None:
        """Remove the record of ``job_id``."""
        try:
            self._file(job_id).unlink()
        except FileNotFoundError:
            raise JobNotFoundError(job_id, f"the file store at {self.path}") from None
        except OSError as exc:
            raise StoreError(f"cannot delete job {job_id!r} from {self.path}: {exc.strerror or exc}") from exc

    def list(
        self,
        *,
        status: JobStatus | None = None,
        backend: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> list[JobSummary]:
        """Return summaries of stored jobs, newest first.

        Files that are not job records (a name that is not a job id, damaged or
        foreign content, a record of another job, a FIFO or device, a file too
        large or that cannot be read) are skipped with a warning naming them.
        Listing never writes or removes anything.
        """
        summaries = []
        for path in self.path.glob(f"*{SUFFIX}"):
            job_id = path.name[: -len(SUFFIX)]
            try:
                validate_job_id(job_id)
                summary = summary_from_data(json.loads(read_regular_file(path, MAX_RECORD_BYTES)), job_id)
                if summary.job_id != job_id:
                    raise JobCorruptError(
                        job_id, f"job {job_id!r}: file holds the record of job {summary.job_id!r}"
                    )
            except FileNotFoundError:
                continue  # removed while listing
            except (ValueError, RecursionError, JobError, UnreadableFileError, OSError) as exc:
                if isinstance(exc, InvalidJobIdError):
                    message = f"{path.name}: the name is not a job id"
                elif isinstance(exc, JobError | UnreadableFileError):
                    message = str(exc)
                elif isinstance(exc, OSError):
                    message = f"cannot read {path}: {exc.strerror or exc}"
                else:
                    message = f"job {job_id!r}: record is not valid JSON"
                warnings.warn(f"skipped unreadable record: {message}", RuntimeWarning, stacklevel=2)
                continue
            if status is not None and summary.status is not status:
                continue
            if backend is not None and summary.backend != backend:
                continue
            if tag is not None and tag not in summary.tags:
                continue
            summaries.append(summary)
        summaries.sort(key=lambda s: s.created_at, reverse=True)
        return summaries if limit is None else summaries[:limit]

    def close(self) -> None:
        """Nothing to release: files are closed after every operation."""


@hookimpl
def register_stores(register: Register) -> None:
    """Register the ``file`` store."""
    register("file", FileStore)
