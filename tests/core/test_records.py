"""Records: JSON via one cattrs converter, QPY circuits, format versions and typed errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qdispatch import JobCorruptError, JobIncompatibleError, Provider, serialization
from qdispatch.records import FORMAT_VERSION
from qdispatch.serialization import decode_record, encode_record
from qdispatch.testing import bell


@pytest.fixture
def encoded(provider: Provider) -> tuple[str, str]:
    job = provider.get_backend("aer").run(bell(), shots=12, tags=["t"])
    job.result()
    return job.job_id(), encode_record(job.to_record())


def test_records_are_json_with_qpy_circuits_and_no_pickle(encoded: tuple[str, str]) -> None:
    job_id, text = encoded
    data = json.loads(text)
    assert data["kind"] == "qdispatch.job" and data["format_version"] == FORMAT_VERSION
    assert data["status"] == "DONE" and data["job_id"] == job_id
    import base64

    assert base64.b64decode(data["circuits"]).startswith(b"QISKIT")
    assert b"\x80\x04" not in text.encode() and "__reduce__" not in text


def test_the_encoded_document_is_the_records_data_and_reads_back(provider: Provider) -> None:
    job = provider.get_backend("aer").run([bell(), bell()], shots=20, tags=["x"], seed_simulator=5)
    job.result()
    record = job.to_record()
    text = encode_record(record)
    assert json.loads(text) == json.loads(json.dumps(serialization.record_to_data(record)))
    assert encode_record(job.to_record()) == text  # the second encoding reuses the cached parts
    again = decode_record(text, record.job_id)
    assert again.result is not None and again.result.get_counts() == job.result().get_counts()
    assert list(again.circuits) == list(record.circuits) and again.tags == ("x",)


def test_numpy_values_in_a_result_are_stored_as_plain_json(provider: Provider) -> None:
    import numpy as np
    from qiskit.result import Result

    job = provider.get_backend("aer").run(bell(), shots=8)
    data = job.result().to_dict()
    data["results"][0]["metadata"] = {
        "energy": np.float64(0.25),
        "n": np.int64(3),
        "phase": 1j,
        "v": np.arange(2),
    }
    record = __import__("attrs").evolve(job.to_record(), result=Result.from_dict(data))
    stored = json.loads(encode_record(record))["result"]["results"][0]["metadata"]
    assert stored == {"energy": 0.25, "n": 3, "phase": [0.0, 1.0], "v": [0, 1]}


def test_a_record_from_an_older_qdispatch_release_still_restores(encoded: tuple[str, str]) -> None:
    job_id, text = encoded
    data = json.loads(text)
    data["provenance"]["qdispatch_version"] = "0.0.1"
    record = decode_record(json.dumps(data), job_id)
    assert record.provenance.qdispatch_version == "0.0.1"


def test_older_formats_are_upgraded_before_reading(
    encoded: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, text = encoded
    renamed: dict[str, Any] = json.loads(text)
    renamed["labels"] = renamed.pop("tags")  # pretend format 1 called tags "labels" ...

    def upgrade_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
        data["tags"] = data.pop("labels")
        return data

    monkeypatch.setattr(serialization, "FORMAT_VERSION", 2)  # ... and this release writes format 2
    monkeypatch.setitem(serialization.UPGRADES, 1, upgrade_1_to_2)
    assert decode_record(json.dumps(renamed), job_id).tags == ("t",)


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (
            lambda d: d.update(format_version=FORMAT_VERSION + 1),
            JobIncompatibleError,
            "newer than this qdispatch",
        ),
        (lambda d: d.pop("kind"), JobCorruptError, "not a qdispatch job record"),
        (lambda d: d.update(format_version="1"), JobCorruptError, "no valid format_version"),
        (lambda d: d.update(status="EXPLODED"), JobCorruptError, "damaged"),
        (lambda d: d.update(circuits="!!!not base64!!!"), JobCorruptError, "damaged"),
        (lambda d: d.update(circuits="UUlTS0lU"), JobCorruptError, "damaged"),
        (lambda d: d.update(surprise=1), JobCorruptError, "damaged"),
        (lambda d: d.pop("shots"), JobCorruptError, "damaged"),
        (lambda d: d.update(job_id="someone-else"), JobCorruptError, "another job"),
    ],
)
def test_bad_records_give_typed_errors_with_the_job_id(
    encoded: tuple[str, str], mutate: Any, error: type[Exception], message: str
) -> None:
    job_id, text = encoded
    data = json.loads(text)
    mutate(data)
    with pytest.raises(error, match=message) as info:
        decode_record(json.dumps(data), job_id)
    assert info.value.job_id == job_id  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["", "{", "[]", "null", '"text"', "\x00\x01binary"])
def test_garbage_is_a_corrupt_record(text: str) -> None:
    with pytest.raises(JobCorruptError, match="job 'abc'"):
        decode_record(text, "abc")
