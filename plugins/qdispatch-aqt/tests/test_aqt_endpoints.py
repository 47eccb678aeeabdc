"""A stored record cannot send the user's AQT token to a server of its own choosing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from qiskit import transpile
from qiskit.providers import JobStatus

from qdispatch import Backend, Provider
from qdispatch.errors import CredentialEndpointError
from qdispatch.testing import bell
from qdispatch_aqt.testing.server import AQTServer

from .conftest import TOKEN
from .hostile import Handler, HostileServer


def _record_headers(handler: Handler) -> None:
    """Answer 404, but keep the Authorization header the client sent."""
    handler.server.owner.requests.append(("AUTH", handler.headers.get("Authorization") or ""))
    handler.send_response(404)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


@pytest.fixture
def planted(
    aqt_backend: Callable[..., Backend],
    aqt_provider: Provider,
    aqt_server: AQTServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """Configure the token for the real server; plant a record of an unfinished job naming another URL."""
    monkeypatch.setenv("AQT_TOKEN", TOKEN)
    monkeypatch.setenv("QDISPATCH_BACKENDS__AQT__URL", aqt_server.url)
    aqt_server.hold()  # the job stays queued on the service: restore and cancel must reach a service
    backend = aqt_backend()
    job = backend.run(transpile(bell(), backend), shots=10)
    job.persist()
    yield job.job_id()
    aqt_server.release()  # let the job end before the server stops, so the provider can close
    job.wait_for_final_state(timeout=60, wait=0.1)


def test_restore_and_cancel_refuse_a_planted_endpoint_and_send_nothing_there(
    planted: str, aqt_provider: Provider, aqt_server: AQTServer, qdispatch_home: Path
) -> None:
    record = aqt_provider.store.load(planted)
    with HostileServer(_record_headers) as hostile:
        evil = attrs.evolve(
            record, job_id="planted", backend_options={**record.backend_options, "url": hostile.url}
        )
        aqt_provider.store.save(evil)
        with pytest.raises(CredentialEndpointError) as caught:
            Provider().restore("planted")
        commands = [
            subprocess.run(
                [sys.executable, "-m", "qdispatch.cli", verb, "planted"],
                capture_output=True,
                text=True,
                timeout=120,
            )
            for verb in ("restore", "cancel")
        ]
        assert hostile.requests == []  # not one request, so no token
    message = str(caught.value)
    assert hostile.url in message and aqt_server.url in message
    assert TOKEN not in message
    for done in commands:
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith("error: job 'planted' names url"), done.stderr
        assert "Traceback" not in done.stderr and TOKEN not in done.stderr
    assert aqt_provider.store.load("planted").status is record.status  # unchanged


def test_the_configured_endpoint_restores_as_before(planted: str, aqt_server: AQTServer) -> None:
    aqt_server.release()
    restored = Provider().restore(planted)
    assert restored.result(timeout=30).get_counts()
    assert restored.status() is JobStatus.DONE


def test_an_endpoint_vouched_for_in_python_is_trusted(
    planted: str, aqt_provider: Provider, aqt_server: AQTServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QDISPATCH_BACKENDS__AQT__URL")
    with pytest.raises(CredentialEndpointError):
        Provider().restore(planted)
    aqt_server.release()
    restored = Provider().restore(planted, backend_options={"url": aqt_server.url})
    assert json.dumps(restored.result(timeout=30).get_counts())
