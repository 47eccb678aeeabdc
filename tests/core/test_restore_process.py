"""persist() in one process, restore() in another: same circuits and options, no re-run when finished."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from qiskit.providers import JobStatus

from qdispatch import Job, Provider
from qdispatch.testing import bell, x_circuit

RESTORE = """
import json, sys, warnings
from qdispatch import Job, Provider
provider = Provider(store=sys.argv[1], store_options={"path": sys.argv[2]})
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    job = Job.restore(sys.argv[3], provider=provider)
    result = job.result(timeout=120)
print(json.dumps({
    "status": job.status().name,
    "counts": result.get_counts(),
    "circuits": [c.name for c in job.circuits()],
    "shots": job.shots,
    "resubmitted": job.resubmitted,
    "warnings": [str(w.message) for w in caught if "submitted again" in str(w.message)],
    "seed": job.backend().device.seed_simulator,
}))
provider.close()
"""


def restore_elsewhere(store: str, path: Path, job_id: str) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-c", RESTORE, store, str(path), job_id],
        capture_output=True,
        text=True,
        timeout=180,
        env=os.environ.copy(),
    )
    assert completed.returncode == 0, completed.stderr
    data: dict[str, object] = json.loads(completed.stdout)
    return data


@pytest.mark.parametrize("store", ["sqlite", "file"])
def test_finished_job_restores_with_its_result_without_running(store: str, tmp_path: Path) -> None:
    path = tmp_path / ("jobs.sqlite" if store == "sqlite" else "jobs")
    circuits = [bell(), x_circuit(3, 3)]
    circuits[0].name, circuits[1].name = "bell", "ones"
    with Provider(store=store, store_options={"path": str(path)}) as provider:
        job = provider.get_backend("aer", seed_simulator=21).run(circuits, shots=77)
        counts = job.result().get_counts()
        job.persist()
    data = restore_elsewhere(store, path, job.job_id())
    assert data["status"] == "DONE" and data["counts"] == counts
    assert data["circuits"] == ["bell", "ones"] and data["shots"] == 77 and data["seed"] == 21
    assert data["resubmitted"] is False and data["warnings"] == []


def test_unfinished_local_job_is_resubmitted_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    with Provider(store="sqlite", store_options={"path": str(path)}) as provider:
        circuit = x_circuit(2, 1)
        circuit.name = "one"
        job = provider.get_backend("aer").run(circuit, shots=64)
        record = job.to_record()
        job.result()
        import attrs

        provider.store.save(attrs.evolve(record, status=JobStatus.QUEUED, result=None, finished_at=None))
    data = restore_elsewhere("sqlite", path, job.job_id())
    assert data["status"] == "DONE" and data["counts"] == {"01": 64}
    assert data["resubmitted"] is True and len(data["warnings"]) == 1  # type: ignore[arg-type]


def test_restore_with_the_store_from_configuration(qdispatch_home: Path) -> None:
    with Provider() as provider:
        job = provider.get_backend("aer").run(bell(), shots=10)
        job.result()
        job.persist()
    restored = Job.restore(job.job_id())
    assert restored.done()
