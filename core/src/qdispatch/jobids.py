"""Job ids: how they are made and what a store accepts."""

from __future__ import annotations

import os
import re

from qdispatch.errors import InvalidJobIdError

MAX_JOB_ID_LENGTH = 128
"""The longest job id a store accepts."""

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_job_id() -> str:
    """Return a fresh, random job id: a version-4 UUID as 32 hex digits.

    Built from the random bytes directly: ``uuid.uuid4().hex`` costs several
    times as much, and every ``backend.run`` makes one.
    """
    number = (int.from_bytes(os.urandom(16)) & _UUID4_CLEAR) | _UUID4_SET
    return f"{number:032x}"


def validate_job_id(job_id: object) -> str:
    """Return ``job_id`` if it is safe as a file name and a key, else raise.

    A valid id is 1 to 128 characters of letters, digits, ``_``, ``-`` and ``.``,
    starts with a letter or digit and contains no ``..``; so it can never name a
    path outside a store's directory.
    """
    if not isinstance(job_id, str):
        raise InvalidJobIdError(f"a job id must be a string, not {type(job_id).__name__}")
    if not job_id:
        raise InvalidJobIdError("a job id must not be empty")
    if len(job_id) > MAX_JOB_ID_LENGTH:
        raise InvalidJobIdError(
            f"job id is {len(job_id)} characters long; at most {MAX_JOB_ID_LENGTH} are allowed"
        )
    if not _JOB_ID.fullmatch(job_id) or ".." in job_id:
        raise InvalidJobIdError(
            f"invalid job id {job_id!r}: use letters, digits, '_', '-' and '.' "
            "(starting with a letter or digit, no '..')"
        )
    return job_id
