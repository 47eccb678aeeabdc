"""The local AQT server as users start it: a command that serves AQT's API until stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
from importlib.metadata import entry_points

import httpx

from qdispatch_aqt.testing.server import AQTServer

from .conftest import TOKEN


def test_python_m_server_serves_the_api_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "qdispatch_aqt.testing.server", "--port", "0", "--token", TOKEN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in first, first + (
            process.stderr.read() if process.stderr else ""
        )
        url = first.split("listening on ", 1)[1].strip()
        with httpx.Client(timeout=10) as client:
            refused = client.get(f"{url}/v1/workspaces")
            answer = client.get(f"{url}/v1/workspaces", headers={"Authorization": f"Bearer {TOKEN}"})
        assert refused.status_code == 401
        assert answer.status_code == 200
        assert [r["id"] for r in answer.json()[0]["resources"]] == [
            "offline_simulator_no_noise",
            "offline_simulator_noise",
        ]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def test_the_server_command_is_installed_as_a_console_script() -> None:
    (script,) = entry_points(group="console_scripts", name="qdispatch-aqt-server")
    assert script.value == "qdispatch_aqt.testing.server.cli:main"


def test_the_server_validates_submits_with_aqt_models(aqt_server: AQTServer) -> None:
    body = {
        "job_type": "quantum_circuit",
        "label": "bad",
        "payload": {
            "circuits": [
                {
                    "repetitions": 10,
                    "number_of_qubits": 2,
                    "quantum_circuit": [
                        {"operation": "RXX", "qubits": [0, 1], "theta": 0.9},
                        {"operation": "MEASURE"},
                    ],
                }
            ]
        },
    }
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        answer = client.post(f"{aqt_server.url}/v1/submit/default/offline_simulator_no_noise", json=body)
        unknown = client.get(f"{aqt_server.url}/v1/result/00000000-0000-0000-0000-000000000000")
    assert answer.status_code == 422
    assert "theta" in answer.text
    assert unknown.status_code == 404
    assert aqt_server.jobs.jobs == {}


def test_listing_backends_imports_no_http_client_nor_aqt_connector() -> None:
    code = (
        "import sys, qdispatch\n"
        "names = qdispatch.Provider().backends()\n"
        "assert 'aqt' in names and 'aqt_offline_simulator_noise' in names, names\n"
        "print([m for m in ('httpx', 'aqt_connector', 'jwt', 'qiskit_aer') if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
