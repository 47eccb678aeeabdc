"""The ``aqt`` backend and executor against the local AQT server, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from qiskit import transpile
from qiskit.providers import JobStatus

from qdispatch import Backend, ConfigurationError, ExecutorError, Job, JobFailedError, Provider
from qdispatch.testing import HookRecorder, bell, x_circuit
from qdispatch_aqt.errors import AQTCredentialsError
from qdispatch_aqt.testing.server import AQTServer

from .conftest import TOKEN


def _wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_bell_job_runs_on_the_remote_server(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    backend = aqt_backend()
    job = backend.run(transpile(bell(), backend), shots=400)
    counts = job.result(timeout=30).get_counts()
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 400
    assert min(counts.values()) > 120  # both outcomes about equally likely
    assert job.executor_name == "aqt"  # although the provider's default executor is "thread"
    assert aqt_server.count("submit") == 1


def test_sixty_circuits_are_split_into_two_requests_and_merged_in_order(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    backend = aqt_backend()
    circuits = [x_circuit(3, i % 4) for i in range(60)]
    job = backend.run(transpile(circuits, backend), shots=20)
    result = job.result(timeout=60)
    assert aqt_server.count("submit") == 2
    expected = ["000", "001", "011", "111"]
    assert [result.get_counts(i) for i in range(60)] == [{expected[i % 4]: 20} for i in range(60)]


def test_progress_moves_as_the_server_finishes_circuits(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer, hook_recorder: HookRecorder
) -> None:
    aqt_server.jobs.circuit_time = 0.15
    backend = aqt_backend()
    job = backend.run(transpile([x_circuit(2, 1)] * 8, backend), shots=10)
    job.result(timeout=60)
    counts = [c.kwargs["progress"].finished_count for c in hook_recorder.calls if c.name == "job_progress"]
    assert counts == sorted(counts) and counts[-1] == 8
    assert any(0 < c < 8 for c in counts), counts
    assert ("QUEUED", "RUNNING") in hook_recorder.transitions(job.job_id())


def test_polling_backs_off_while_a_job_waits(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    aqt_server.hold()
    backend = aqt_backend()
    job = backend.run(transpile(bell(), backend), shots=10)
    time.sleep(1.5)
    aqt_server.release()
    job.result(timeout=30)
    # 50 ms first, stretched by 1.3 each time up to 0.5 s: about 11 polls in all; a fixed 50 ms would need 30
    assert aqt_server.count("result") <= 18


def test_cancel_stops_the_remote_job(aqt_backend: Callable[..., Backend], aqt_server: AQTServer) -> None:
    aqt_server.hold()
    backend = aqt_backend()
    job = backend.run(transpile(bell(), backend), shots=10)
    assert job.status() is JobStatus.QUEUED
    assert job.cancel() is True
    assert job.status() is JobStatus.CANCELLED
    assert aqt_server.count("cancel", answered=True) == 1
    (remote,) = aqt_server.jobs.jobs.values()
    assert remote.status == "cancelled"


def test_cancel_returns_false_when_the_server_cannot_cancel(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    aqt_server.cancel_supported = False
    aqt_server.hold()
    backend = aqt_backend()
    job = backend.run(transpile(bell(), backend), shots=10)
    assert job.cancel() is False  # DELETE answered 405: never pretend
    aqt_server.release()
    assert sum(job.result(timeout=30).get_counts().values()) == 10


def test_a_job_ending_in_error_gives_its_message(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    aqt_server.faults.fail_rate = 1.0
    backend = aqt_backend()
    job = backend.run(transpile(bell(), backend), shots=10)
    with pytest.raises(JobFailedError, match="lost its ions"):
        job.result(timeout=30)
    assert job.status() is JobStatus.ERROR
    assert "lost its ions" in (job.error_message or "")


def test_a_bad_token_gives_a_credentials_error_saying_where_to_configure(
    aqt_backend: Callable[..., Backend],
) -> None:
    with pytest.raises(AQTCredentialsError, match="AQT_TOKEN") as caught:
        aqt_backend(token="wrong-token-0000")
    assert "wrong-token-0000" not in str(caught.value)
    assert "HTTP 401" in str(caught.value)


def test_a_token_refused_at_submit_fails_the_job(aqt_backend: Callable[..., Backend]) -> None:
    backend = aqt_backend(token="wrong-token-0000", num_qubits=4)  # num_qubits given: no look-up
    job = backend.run(transpile(bell(), backend), shots=10)
    assert job.status() is JobStatus.ERROR
    assert "refused the access token" in (job.error_message or "")


def test_missing_credentials_say_where_to_put_them(aqt_provider: Provider, aqt_server: AQTServer) -> None:
    with pytest.raises(AQTCredentialsError, match=r"no AQT credentials found.*AQT_TOKEN"):
        aqt_provider.get_backend(
            "aqt", url=aqt_server.url, workspace="default", resource="offline_simulator_noise"
        )


def test_url_and_token_come_from_aqt_variables_and_never_reach_the_store(
    aqt_provider: Provider, aqt_server: AQTServer, qdispatch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQT_ARNICA_URL", aqt_server.url)
    monkeypatch.setenv("AQT_TOKEN", TOKEN)
    backend = aqt_provider.get_backend("aqt", workspace="default", resource="offline_simulator_no_noise")
    job = backend.run(transpile(bell(), backend), shots=10)
    job.result(timeout=30)
    job.persist()
    explicit = aqt_provider.get_backend(
        "aqt", url=aqt_server.url, token=TOKEN, workspace="default", resource="offline_simulator_no_noise"
    )
    explicit.run(transpile(bell(), explicit), shots=10).persist()
    stored = b"".join(p.read_bytes() for p in qdispatch_home.rglob("*") if p.is_file())
    assert TOKEN.encode() not in stored
    assert job.job_id().encode() in stored


def test_unknown_resource_lists_the_available_ones(aqt_backend: Callable[..., Backend]) -> None:
    with pytest.raises(ConfigurationError, match="offline_simulator_no_noise"):
        aqt_backend(resource="ibex")


def test_a_lost_submit_answer_is_reported_and_never_resent(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    backend = aqt_backend()
    aqt_server.faults.endpoints = frozenset({"submit"})
    aqt_server.faults.drop_rate = 1.0
    job = backend.run(transpile(bell(), backend), shots=10)
    assert job.status() is JobStatus.ERROR
    assert "answer was lost" in (job.error_message or "")
    assert aqt_server.count("submit") == 1
    assert job.to_record().chunks[0].state["submit_answer_lost"] is True


def test_restoring_a_job_the_server_forgot_gives_not_found(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQT_TOKEN", TOKEN)  # the record has no token: restoring needs one configured
    monkeypatch.setenv("QDISPATCH_BACKENDS__AQT__URL", aqt_server.url)  # ... and the endpoint it is for
    aqt_server.hold()
    backend = aqt_backend()
    job = backend.run(transpile(bell(), backend), shots=10)
    job.persist()
    aqt_server.jobs.jobs.clear()  # AQT no longer has the job (expired, or another account)
    restored = Job.restore(job.job_id())
    restored.wait_for_final_state(timeout=30)
    assert restored.status() is JobStatus.ERROR
    assert "not found in AQT" in (restored.error_message or "")
    assert aqt_server.count("submit") == 1


def test_the_offline_device_refuses_to_run_the_remote_backend_in_process(
    aqt_backend: Callable[..., Backend],
) -> None:
    backend = aqt_backend()
    with pytest.raises(Exception, match="'aqt' executor only"):
        backend.device.run_circuits([bell()], 10, {})


def test_shutdown_waits_for_remote_jobs_then_refuses_new_ones(
    aqt_backend: Callable[..., Backend], aqt_provider: Provider, aqt_server: AQTServer
) -> None:
    aqt_server.jobs.queue_delay = 0.3
    backend = aqt_backend()
    job = backend.run(transpile(bell(), backend), shots=10)
    aqt_provider.executor("aqt").shutdown(wait=True)
    assert job.status() is JobStatus.DONE
    with pytest.raises(ExecutorError, match="shut down"):
        backend.run(transpile(bell(), backend), shots=10)


def test_memory_keeps_every_shot_and_unknown_run_options_are_refused(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    backend = aqt_backend()
    circuit = transpile(x_circuit(2, 1), backend)
    result = backend.run(circuit, shots=5, memory=True).result(timeout=30)
    assert result.get_memory() == ["01"] * 5
    job = backend.run(circuit, shots=5, seed_simulator=3)
    assert job.status() is JobStatus.ERROR
    assert "seed_simulator" in (job.error_message or "")
    assert aqt_server.count("submit") == 1  # the refused job was never sent
