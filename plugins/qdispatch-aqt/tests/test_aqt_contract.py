"""The plugin's backends keep qdispatch's backend contract (qdispatch.contract)."""

from __future__ import annotations

import pytest

from qdispatch.contract import check_backend
from qdispatch_aqt.testing.server import AQTServer

from .conftest import TOKEN


@pytest.mark.parametrize("name", ["aqt_offline_simulator_no_noise", "aqt_offline_simulator_noise"])
def test_offline_simulators_keep_the_backend_contract(name: str) -> None:
    check_backend(name, {"seed_simulator": 1}).assert_ok()


def test_the_remote_backend_keeps_the_backend_contract(
    aqt_server: AQTServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AQT_TOKEN", TOKEN)  # restoring needs the token from the environment, not the record
    options = {"url": aqt_server.url, "workspace": "default", "resource": "offline_simulator_no_noise"}
    check_backend("aqt", options).assert_ok()
