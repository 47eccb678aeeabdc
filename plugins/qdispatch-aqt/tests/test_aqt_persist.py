"""persist() records the remote job id; Job.restore() in a new process resumes that same remote job."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from qiskit import transpile

from qdispatch import Backend
from qdispatch_aqt.testing.server import AQTServer

from .conftest import TOKEN

SUBMIT_AND_LEAVE = """
from qiskit import transpile
from qdispatch import Provider
from qdispatch.testing import bell

backend = Provider().get_backend("aqt", workspace="default", resource="offline_simulator_no_noise")
job = backend.run(transpile(bell(), backend), shots=100)
job.persist()
print(job.job_id())
# the process ends here, its job still queued on the server
"""

RESTORE_AND_WAIT = """
import json, sys
from qdispatch import Job

job = Job.restore(sys.argv[1])
counts = job.result(timeout=60).get_counts()
print(json.dumps({"counts": counts, "resubmitted": job.resubmitted}))
"""


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_restore_in_a_new_process_resumes_the_same_remote_job(
    aqt_server: AQTServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQT_ARNICA_URL", aqt_server.url)
    monkeypatch.setenv("AQT_TOKEN", TOKEN)
    aqt_server.hold()  # the job stays queued while the first process submits and exits

    first = _python(SUBMIT_AND_LEAVE)
    assert first.returncode == 0, first.stderr
    job_id = first.stdout.strip().splitlines()[-1]
    assert aqt_server.count("submit") == 1
    (remote,) = aqt_server.jobs.jobs.values()
    assert remote.status == "queued"

    aqt_server.release()
    second = _python(RESTORE_AND_WAIT, job_id)
    assert second.returncode == 0, second.stderr
    outcome = json.loads(second.stdout.strip().splitlines()[-1])
    assert set(outcome["counts"]) <= {"00", "11"} and sum(outcome["counts"].values()) == 100
    assert outcome["resubmitted"] is False
    assert "submitted again" not in second.stderr
    assert aqt_server.count("submit") == 1  # no second submit
    assert aqt_server.count("result", job_id=str(remote.job_id), answered=True) >= 1


def test_the_record_holds_the_remote_job_id_but_no_token(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    from qdispatch.testing import bell

    aqt_server.hold()
    backend = aqt_backend()
    job = backend.run(transpile(bell(), backend), shots=10)
    record = job.to_record()
    (remote,) = aqt_server.jobs.jobs.values()
    assert record.chunks[0].state["remote_job_id"] == str(remote.job_id)
    assert record.chunks[0].state["url"] == aqt_server.url
    assert "token" not in record.backend_options
    assert record.backend_options["resource"] == "offline_simulator_no_noise"
    aqt_server.release()
    job.result(timeout=30)
