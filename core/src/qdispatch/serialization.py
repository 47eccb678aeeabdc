"""Records to and from JSON with one cattrs converter; circuits as QPY.

Loading a record never executes code from it: the JSON is parsed, checked
against the record classes (unknown keys are refused) and circuits are decoded
by QPY. Older record formats are upgraded here before structuring.
"""

from __future__ import annotations

import base64
import functools
import json
import struct
import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from qiskit.providers import JobStatus
from qiskit.result import Result

from qdispatch.circuits import CircuitBatch
from qdispatch.errors import JobCorruptError, JobIncompatibleError
from qdispatch.records import FORMAT_VERSION, JobRecord, JobSummary
from qdispatch.stores.paths import MAX_RECORD_BYTES

if TYPE_CHECKING:
    from cattrs.preconf.json import JsonConverter

RECORD_KIND = "qdispatch.job"
"""The ``kind`` every record file carries, to tell a qdispatch record from foreign JSON."""

MAX_QUBITS = 100_000
"""The most qubits a stored circuit may have; a record claiming more is damaged or hostile."""
MAX_CLBITS = 100_000
"""The most classical bits a stored circuit may have."""

_QPY_FILE_HEADER = struct.Struct("!6sBBBBQ")
_QPY_TABLE_ENTRY = struct.Struct("!Q")
_QPY_CIRCUIT_HEADER = struct.Struct("!H1cHIIQIQ")
"""The leading fields of a QPY circuit header, the same in every version qiskit 2 reads."""

Upgrade = Callable[[dict[str, Any]], dict[str, Any]]
UPGRADES: dict[int, Upgrade] = {}
"""Functions that turn a record of format ``n`` into format ``n + 1``."""


def jsonable(value: Any) -> Any:
    """Return ``value`` with NumPy scalars, arrays and complex numbers made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, complex):
        return [value.real, value.imag]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class _EncodedResult:
    """A result's JSON-safe data and its JSON text, computed together once."""

    __slots__ = ("data", "text")

    def __init__(self, result: Result) -> None:
        self.data: dict[str, Any] = jsonable(result.to_dict())
        self.text = json.dumps(self.data, separators=(",", ":"), allow_nan=False)


_encoded_results: weakref.WeakKeyDictionary[Result, _EncodedResult] = weakref.WeakKeyDictionary()
_encoded_results_lock = threading.Lock()


def _encoded(result: Result) -> _EncodedResult:
    """Return the encoding of ``result``, computing it on first use.

    A finished job keeps one ``Result`` and is persisted again and again (on
    every status change, to every store it is exported to), so its encoding
    is kept beside it for as long as the ``Result`` lives, as the circuits'
    QPY is. qdispatch treats a result as a value: changing a ``Result`` in
    place after its job was first persisted does not change what is stored.
    """
    with _encoded_results_lock:
        encoded = _encoded_results.get(result)
    if encoded is None:
        encoded = _EncodedResult(result)
        with _encoded_results_lock:
            encoded = _encoded_results.setdefault(result, encoded)
    return encoded


def result_to_data(result: Result) -> dict[str, Any]:
    """Turn a Qiskit ``Result`` into JSON-safe data (shared: do not change it)."""
    return _encoded(result).data


def result_from_data(data: dict[str, Any]) -> Result:
    """Rebuild a Qiskit ``Result`` from :func:`result_to_data` output."""
    return Result.from_dict(data)


def check_qpy(data: bytes) -> None:
    """Check the headers of QPY ``data`` against sane limits before it is decoded.

    A header can claim any number of qubits, registers or instructions in a
    few bytes, and decoding allocates for what it claims. Every circuit's
    header is checked when the payload has a circuit table (QPY 16 and
    later, what qiskit 2 writes); the first one otherwise. Decoded circuits
    are checked again by :func:`check_circuits`.

    :raises ValueError: naming the field that is out of bounds.
    """
    if len(data) < _QPY_FILE_HEADER.size + 1:
        raise ValueError(f"QPY data is {len(data)} bytes, too short for its header")
    preface, version, _major, _minor, _patch, programs = _QPY_FILE_HEADER.unpack_from(data)
    if preface != b"QISKIT":
        raise ValueError("circuits are not QPY data")
    if programs > len(data) // _QPY_CIRCUIT_HEADER.size:
        raise ValueError(f"QPY header claims {programs} circuits in {len(data)} bytes")
    start = _QPY_FILE_HEADER.size + (1 if version >= 10 else 0) + (1 if version >= 5 else 0)
    if version >= 16:
        if start + programs * _QPY_TABLE_ENTRY.size > len(data):
            raise ValueError("QPY circuit table runs past the end of the data")
        offsets = [
            _QPY_TABLE_ENTRY.unpack_from(data, start + i * _QPY_TABLE_ENTRY.size)[0] for i in range(programs)
        ]
    else:
        offsets = [start] if programs else []
    for number, offset in enumerate(offsets):
        if offset + _QPY_CIRCUIT_HEADER.size > len(data):
            raise ValueError(f"QPY circuit {number} starts past the end of the data")
        fields = _QPY_CIRCUIT_HEADER.unpack_from(data, offset)
        qubits, clbits, metadata, registers, instructions = (
            fields[3],
            fields[4],
            fields[5],
            fields[6],
            fields[7],
        )
        if qubits > MAX_QUBITS or clbits > MAX_CLBITS:
            raise ValueError(
                f"QPY circuit {number} claims {qubits} qubits and {clbits} clbits; "
                f"the limits are {MAX_QUBITS} and {MAX_CLBITS}"
            )
        for name, count in (
            ("metadata bytes", metadata),
            ("registers", registers),
            ("instructions", instructions),
        ):
            if count > len(data):
                raise ValueError(f"QPY circuit {number} claims {count} {name} in {len(data)} bytes")


def check_circuits(batch: CircuitBatch) -> CircuitBatch:
    """Check decoded circuits against :data:`MAX_QUBITS` and :data:`MAX_CLBITS`; return them."""
    for number, circuit in enumerate(batch):
        if circuit.num_qubits > MAX_QUBITS or circuit.num_clbits > MAX_CLBITS:
            raise ValueError(
                f"circuit {number} has {circuit.num_qubits} qubits and {circuit.num_clbits} clbits; "
                f"the limits are {MAX_QUBITS} and {MAX_CLBITS}"
            )
    return batch


def circuits_from_base64(text: str) -> CircuitBatch:
    """Decode a record's base64 QPY text, checking headers before and circuits after decoding."""
    data = base64.b64decode(text, validate=True)
    check_qpy(data)
    return check_circuits(CircuitBatch.from_qpy(data))


def aware_datetime(text: Any) -> datetime:
    """Read an ISO 8601 time that carries a timezone (a stored time without one is damage)."""
    if not isinstance(text, str):
        raise ValueError(f"a time must be ISO 8601 text, not {text!r}")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone")
    return moment


def make_converter() -> JsonConverter:
    """Return the converter for every qdispatch record, with QPY circuits."""
    from cattrs.preconf.json import make_converter as make_json_converter

    conv = make_json_converter(forbid_extra_keys=True)
    conv.register_unstructure_hook(JobStatus, lambda status: status.name)
    conv.register_structure_hook(JobStatus, lambda name, _: JobStatus[name])
    conv.register_unstructure_hook(CircuitBatch, lambda batch: batch.qpy_base64())
    conv.register_structure_hook(CircuitBatch, lambda text, _: circuits_from_base64(text))
    conv.register_structure_hook(datetime, lambda text, _: aware_datetime(text))
    conv.register_unstructure_hook(Result, result_to_data)
    conv.register_structure_hook(Result, lambda data, _: result_from_data(data))
    conv.register_unstructure_hook(dict, jsonable)
    return conv


@functools.cache
def converter() -> JsonConverter:
    """Return the converter qdispatch uses, built on first use.

    Stores call :func:`encode_record` and :func:`decode_record`. cattrs is
    imported here rather than at module level: loading the store plugins
    (which import this module) is part of every ``Provider()``'s start-up.
    """
    return make_converter()


def record_to_data(record: JobRecord) -> dict[str, Any]:
    """Return the JSON-safe data of ``record``, with its ``kind`` marker."""
    data: dict[str, Any] = converter().unstructure(record)
    data["kind"] = RECORD_KIND
    return data


def encode_record(record: JobRecord) -> str:
    """Encode ``record`` as a JSON document.

    The two large fields are spliced in as text encoded once: the circuits'
    base64 QPY (cached by :class:`~qdispatch.circuits.CircuitBatch`) and the
    result's JSON (cached per ``Result``). Only the small fields are encoded
    on every call.
    """
    data = record_to_data(record)
    circuits = data.pop("circuits")
    data.pop("result")
    result = "null" if record.result is None else _encoded(record.result).text
    head = json.dumps(data, separators=(",", ":"), allow_nan=False)
    # base64 text has no character JSON must escape, so it goes in between quotes as it is.
    return f'{head[:-1]},"circuits":"{circuits}","result":{result}}}'


def upgrade(data: dict[str, Any], job_id: str) -> dict[str, Any]:
    """Bring record data of an older format up to :data:`FORMAT_VERSION`."""
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise JobCorruptError(job_id, f"job {job_id!r}: record has no valid format_version")
    if version > FORMAT_VERSION:
        raise JobIncompatibleError(
            job_id,
            f"job {job_id!r} was stored in record format {version}, newer than this "
            f"qdispatch understands ({FORMAT_VERSION}); upgrade qdispatch to read it",
        )
    while version < FORMAT_VERSION:
        data = UPGRADES[version](data)
        version += 1
        data["format_version"] = version
    return data


def _format_leaf(exc: BaseException, type_: Any) -> str:
    """Describe one structuring failure; the checks' own messages (limits, timezones) are kept."""
    from cattrs.v import format_exception

    if type(exc) is ValueError and str(exc):
        return str(exc)
    return format_exception(exc, type_)


def data_to_record(data: Any, job_id: str) -> JobRecord:
    """Check, upgrade and structure record data, raising typed errors for bad data."""
    if not isinstance(data, dict) or data.get("kind") != RECORD_KIND:
        raise JobCorruptError(job_id, f"job {job_id!r}: stored data is not a qdispatch job record")
    data = upgrade(dict(data), job_id)
    data.pop("kind")
    try:
        record = converter().structure(data, JobRecord)
    except Exception as exc:  # cattrs groups, QPY errors, base64 errors
        import cattrs

        detail = (
            "; ".join(cattrs.transform_error(exc, format_exception=_format_leaf))
            if isinstance(exc, cattrs.BaseValidationError)
            else str(exc)
        )
        raise JobCorruptError(job_id, f"job {job_id!r}: record is damaged: {detail}") from exc
    if record.job_id != job_id:
        raise JobCorruptError(job_id, f"job {job_id!r}: record belongs to another job ({record.job_id!r})")
    return record


def decode_record(text: str | bytes, job_id: str) -> JobRecord:
    """Decode a JSON document written by :func:`encode_record`."""
    if len(text) > MAX_RECORD_BYTES:
        raise JobCorruptError(
            job_id, f"job {job_id!r}: record is {len(text)} bytes, more than the limit of {MAX_RECORD_BYTES}"
        )
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JobCorruptError(job_id, f"job {job_id!r}: record is not valid JSON ({exc})") from exc
    except RecursionError as exc:  # JSON nested deeper than the parser goes
        raise JobCorruptError(
            job_id, f"job {job_id!r}: record is not valid JSON (nested too deeply)"
        ) from exc
    return data_to_record(data, job_id)


def summary_from_data(data: Any, job_id: str) -> JobSummary:
    """Read the summary fields of record data without decoding circuits or result."""
    if not isinstance(data, dict) or data.get("kind") != RECORD_KIND:
        raise JobCorruptError(job_id, f"job {job_id!r}: stored data is not a qdispatch job record")
    data = upgrade(dict(data), job_id)
    try:
        return converter().structure(
            {
                "job_id": data["job_id"],
                "status": data["status"],
                "backend": data["backend"],
                "executor": data["executor"],
                "created_at": data["created_at"],
                "num_circuits": max((c["stop"] for c in data["chunks"]), default=0),
                "shots": data["shots"],
                "tags": data.get("tags", []),
            },
            JobSummary,
        )
    except Exception as exc:
        raise JobCorruptError(job_id, f"job {job_id!r}: record is damaged: {exc!r}") from exc
