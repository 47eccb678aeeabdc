"""AQT's OIDC client-credentials log-in through aqt-connector, against the local server's issuer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from qiskit import transpile

from qdispatch import Provider
from qdispatch.testing import bell
from qdispatch_aqt.errors import AQTCredentialsError
from qdispatch_aqt.testing.server import AQTServer

CLIENT_ID, CLIENT_SECRET = "qdispatch-ci", "s3cret-client-9d1e"


@pytest.fixture
def login_server() -> Iterator[AQTServer]:
    """A server that accepts only access tokens it issued, valid for one second."""
    with AQTServer(clients={CLIENT_ID: CLIENT_SECRET}, token_lifetime=1) as server:
        yield server


def test_client_credentials_log_in_and_refresh_the_expiring_token(
    aqt_provider: Provider, login_server: AQTServer, qdispatch_home: Path
) -> None:
    backend = aqt_provider.get_backend(
        "aqt",
        url=login_server.url,
        oidc_issuer=login_server.root,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        workspace="default",
        resource="offline_simulator_no_noise",
    )
    login_server.hold()
    job = backend.run(transpile(bell(), backend), shots=50)
    time.sleep(1.6)  # polls go on while the first access tokens expire
    login_server.release()
    assert sum(job.result(timeout=30).get_counts().values()) == 50
    assert login_server.issuer is not None and login_server.issuer.issued >= 2
    assert login_server.count("result", answered=True) >= 1
    assert not (qdispatch_home / ".aqt" / "access_token").exists()  # tokens stay in memory
    assert "client_secret" not in job.to_record().backend_options


def test_wrong_client_secret_gives_a_credentials_error(
    aqt_provider: Provider, login_server: AQTServer
) -> None:
    with pytest.raises(AQTCredentialsError, match="refused the client credentials") as caught:
        aqt_provider.get_backend(
            "aqt",
            url=login_server.url,
            oidc_issuer=login_server.root,
            client_id=CLIENT_ID,
            client_secret="not-the-secret-7781",
            workspace="default",
            resource="offline_simulator_no_noise",
        )
    assert "not-the-secret-7781" not in str(caught.value)


def test_client_credentials_can_come_from_aqt_variables(
    login_server: AQTServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQT_ARNICA_URL", login_server.url)
    monkeypatch.setenv("AQT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AQT_CLIENT_SECRET", CLIENT_SECRET)
    with Provider() as provider:
        backend = provider.get_backend(
            "aqt", oidc_issuer=login_server.root, workspace="default", resource="offline_simulator_noise"
        )
        assert backend.target.num_qubits == 20
