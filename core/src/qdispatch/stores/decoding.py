"""Reading stored records for the built-in stores: every kind of damage becomes a typed error."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qdispatch.errors import JobCorruptError
from qdispatch.serialization import decode_record

if TYPE_CHECKING:
    from qdispatch.records import JobRecord


def load_record(data: str | bytes, job_id: str) -> JobRecord:
    """Decode a stored record as :func:`~qdispatch.serialization.decode_record` does.

    JSON nested too deeply for the parser raises ``RecursionError`` there; it
    is reported like any other damage, as :class:`~qdispatch.errors.JobCorruptError`.
    """
    try:
        return decode_record(data, job_id)
    except RecursionError as exc:
        raise JobCorruptError(job_id, f"job {job_id!r}: record is not valid JSON (nested too deeply)") from exc
