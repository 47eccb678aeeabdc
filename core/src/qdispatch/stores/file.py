"""The ``file`` store: one JSON file per job in a directory, written atomically."""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from qdispatch.config import default_data_dir
from qdispatch.errors import InvalidJobIdError, JobCorruptError, JobError, JobNotFoundError, StoreError
from qdispatch.hookspecs import hookimpl
from qdispatch.jobids import validate_job_id
from qdispatch.serialization import decode_record, encode_record, summary_from_data
from qdispatch.stores.paths import FILE_MODE, private_directory

if TYPE_CHECKING:
    from qiskit.providers import JobStatus

    from qdispatch.plugins import Register
    from qdispatch.records import JobRecord, JobSummary

SUFFIX = ".json"
"""The suffix of a record file; the name before it is the job id."""
TEMPORARY_SUFFIX = ".tmp"
"""The suffix of the hidden temporary file a save writes before renaming it over the record."""
STALE_TEMPORARY_SECONDS = 3600.0
"""Age after which a temporary file left by a killed writer is removed when a store opens."""


class FileStore:
    """Keeps each job as ``<directory>/<job id>.json``, mode 0600, in a 0700 directory.

    A save writes a temporary file, fsyncs it, renames it over the old record
    and fsyncs the directory, so a record is either the old one or the new one,
    never half-written.

    :param path: the directory (default: ``jobs/`` in the user data directory).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = private_directory(Path(path) if path is not None else default_data_dir() / "jobs")
        self._remove_stale_temporaries()

    def _remove_stale_temporaries(self) -> None:
        """Delete temporary files left by a writer that died mid-save, once they are old.

        A fresh temporary may belong to a save in progress in another process,
        so only those older than :data:`STALE_TEMPORARY_SECONDS` are removed.
        """
        cutoff = time.time() - STALE_TEMPORARY_SECONDS
        for leftover in self.path.glob(f".*{TEMPORARY_SUFFIX}"):
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
            except OSError:
                continue  # another process removed or renamed it first

    def _file(self, job_id: str) -> Path:
        return self.path / f"{validate_job_id(job_id)}{SUFFIX}"

    def save(self, record: JobRecord) -> str:
        """Write ``record`` atomically; return its file path."""
        target = self._file(record.job_id)
        data = encode_record(record).encode("utf-8")
        temporary = self.path / f".{record.job_id}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            try:
                os.fchmod(fd, FILE_MODE)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
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
            raise StoreError(f"cannot write job {record.job_id!r} to {self.path}: {exc.strerror}") from exc
        return str(target)

    def load(self, job_id: str) -> JobRecord:
        """Read the record of ``job_id``."""
        path = self._file(job_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise JobNotFoundError(job_id, f"the file store at {self.path}") from None
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
        foreign content, a record of another job) are skipped with a warning.
        """
        summaries = []
        for path in self.path.glob(f"*{SUFFIX}"):
            job_id = path.name[: -len(SUFFIX)]
            try:
                validate_job_id(job_id)
                summary = summary_from_data(json.loads(path.read_bytes()), job_id)
                if summary.job_id != job_id:
                    raise JobCorruptError(
                        job_id, f"job {job_id!r}: file holds the record of job {summary.job_id!r}"
                    )
            except (ValueError, RecursionError, JobError) as exc:
                if isinstance(exc, InvalidJobIdError):
                    message = f"{path.name}: the name is not a job id"
                elif isinstance(exc, JobError):
                    message = str(exc)
                else:
                    message = f"job {job_id!r}: record is not valid JSON"
                warnings.warn(f"skipped unreadable record: {message}", RuntimeWarning, stacklevel=2)
                continue
            except OSError:
                continue  # removed while listing, or not a regular file
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

