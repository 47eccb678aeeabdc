"""The records a store keeps: frozen attrs classes, one per concept.

A record holds everything needed to show a job, restore it in another process
and reproduce its run. It never holds secrets (access tokens) and never holds
pickled objects; :mod:`qdispatch.serialization` turns records into JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
from qiskit.providers import JobStatus
from qiskit.result import Result

from qdispatch.circuits import CircuitBatch

FORMAT_VERSION = 1
"""The record format this qdispatch writes; older versions are upgraded on load."""

FINAL_STATUSES = frozenset({JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED})
"""Statuses a job never leaves."""


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


@attrs.frozen(kw_only=True)
class Provenance:
    """What makes a run reproducible: versions, seed and noise fingerprint."""

    qdispatch_version: str
    qiskit_version: str
    simulator: str | None = None
    simulator_version: str | None = None
    seed: int | None = None
    noise_fingerprint: str | None = None


@attrs.frozen(kw_only=True)
class ChunkRecord:
    """One task of a job: the circuits ``[start:stop]`` and its executor's state.

    ``state`` is what the executor reported through :meth:`qdispatch.Task.report_state`
    (for a remote service, the remote job id), so the chunk can be resumed.
    """

    start: int
    stop: int
    state: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class JobRecord:
    """What a store keeps for one job."""

    format_version: int = FORMAT_VERSION
    job_id: str
    backend: str
    backend_options: dict[str, Any] = attrs.field(factory=dict)
    executor: str
    shots: int
    run_options: dict[str, Any] = attrs.field(factory=dict)
    circuits: CircuitBatch
    chunks: tuple[ChunkRecord, ...] = ()
    status: JobStatus
    created_at: datetime
    submitted_at: datetime | None = None
    finished_at: datetime | None = None
    result: Result | None = None
    error_message: str | None = None
    tags: tuple[str, ...] = ()
    provenance: Provenance

    @property
    def finished(self) -> bool:
        """Whether the job had reached a final status when recorded."""
        return self.status in FINAL_STATUSES

    @property
    def remote(self) -> bool:
        """Whether an unfinished job's tasks were handed to a remote service (they hold its state)."""
        return not self.finished and any(chunk.state for chunk in self.chunks)

    def summary(self) -> JobSummary:
        """Return the light summary of this record that listings show."""
        return JobSummary(
            job_id=self.job_id,
            status=self.status,
            backend=self.backend,
            executor=self.executor,
            created_at=self.created_at,
            num_circuits=len(self.circuits),
            shots=self.shots,
            tags=self.tags,
        )


@attrs.frozen(kw_only=True)
class JobSummary:
    """One line of a job listing: cheap to read, no circuits, no result."""

    job_id: str
    status: JobStatus
    backend: str
    executor: str
    created_at: datetime
    num_circuits: int
    shots: int
    tags: tuple[str, ...] = ()
