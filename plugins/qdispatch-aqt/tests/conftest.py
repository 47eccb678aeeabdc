"""Fixtures for the AQT plugin's tests: a local AQT server on 127.0.0.1 and providers that use it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qdispatch import Backend, Provider
from qdispatch_aqt.testing.server import AQTServer

TOKEN = "test-token-5f3a"
"""The one bearer token the test server accepts."""

AQT_VARIABLES = ("AQT_TOKEN", "AQT_ARNICA_URL", "AQT_CLIENT_ID", "AQT_CLIENT_SECRET")


@pytest.fixture(autouse=True)
def _no_aqt_account(qdispatch_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's AQT variables and ``~/.aqt`` log-in out of every test."""
    for name in AQT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(qdispatch_home))
    # polls back off to 0.5 s at most, so tests never wait long for a result
    monkeypatch.setenv("QDISPATCH_EXECUTORS__AQT__POLL_MAX", "0.5")


@pytest.fixture
def aqt_server() -> Iterator[AQTServer]:
    """A local AQT server accepting :data:`TOKEN`, with seeded simulations; stopped after the test."""
    with AQTServer(tokens=[TOKEN], seed=7) as server:
        yield server


@pytest.fixture
def aqt_provider(_no_aqt_account: None) -> Iterator[Provider]:
    """A provider on the isolated home (thread executor by default), closed after the test."""
    with Provider() as provider:
        yield provider


@pytest.fixture
def aqt_backend(aqt_provider: Provider, aqt_server: AQTServer) -> Callable[..., Backend]:
    """Return ``make(**options)``: the ``aqt`` backend on the local server's noiseless resource."""

    def make(**options: Any) -> Backend:
        settings = {
            "url": aqt_server.url,
            "token": TOKEN,
            "workspace": "default",
            "resource": "offline_simulator_no_noise",
            **options,
        }
        return aqt_provider.get_backend("aqt", **settings)

    return make
