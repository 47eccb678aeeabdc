"""The ``file`` store: one JSON file per job in a directory, written atomically."""

from __future__ import annotations

import json
import os
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from qdispatch.config import default_data_dir
from qdispatch.errors import JobError, JobNotFoundError, StoreError
from qdispatch.hookspecs import hookimpl
from qdispatch.jobids import validate_job_id
from qdispatch.serialization import decode_record, encode_record, summary_from_data

if TYPE_CHECKING:
    from qiskit.providers import JobStatus

    from qdispatch.plugins import Register
    from qdispatch.records import JobRecord, JobSummary

SUFFIX = ".json"


class FileStore:
    """Keeps each job as ``<directory>/<job id>.json``, mode 0600, in a 0700 directory.

    A save writes a temporary file, fsyncs it, renames it over the old record
    and fsyncs the directory, so a record is either the old one or the new one,
    never half-written.

    :param path: the directory (default: ``jobs/`` in the user data directory).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        from qdispatch.stores.paths import private_directory

        self.path = private_directory(Path(path) if path is not None else default_data_dir() / "jobs")

    def _file(self, job_id: str) -> Path:
        return self.path / f"{validate_job_id(job_id)}{SUFFIX}"

    def save(self, record: JobRecord) -> str:
        """Write ``record`` atomically; return its file path."""
        target = self._file(record.job_id)
        data = encode_record(record).encode("utf-8")
        temporary = self.path / f".{record.job_id}.{uuid.uuid4().hex}.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
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
            raise StoreError(f"cannot read job {job_id!r}: {exc.strerror}") from exc
        return decode_record(data, job_id)

    def delete(self, job_id: str) -> None:
        """Remove the record of ``job_id``."""
        try:
            self._file(job_id).unlink()
        except FileNotFoundError:
            raise JobNotFoundError(job_id, f"the file store at {self.path}") from None

    def list(
        self,
        *,
        status: JobStatus | None = None,
        backend: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> list[JobSummary]:
        """Return summaries of stored jobs, newest first; unreadable records are skipped with a warning."""
        summaries = []
        for path in self.path.glob(f"*{SUFFIX}"):
            job_id = path.name[: -len(SUFFIX)]
            try:
                summary = summary_from_data(json.loads(path.read_bytes()), job_id)
            except (ValueError, JobError) as exc:
                message = str(exc) if isinstance(exc, JobError) else f"job {job_id!r}: record is not valid JSON"
                warnings.warn(f"skipped unreadable record: {message}", RuntimeWarning, stacklevel=2)
                continue
            except OSError:
                continue  # removed while listing
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

