"""The AQT client against hostile or careless use: leaked tokens, plain HTTP, wrong answers, slow and huge
answers, forged remote ids, leaked sockets. Real HTTP on 127.0.0.1 throughout."""

from __future__ import annotations

import gc
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from qiskit import transpile
from qiskit.providers import JobStatus

from qdispatch import Backend, ConfigurationError, Job, Provider
from qdispatch.circuits import CircuitBatch
from qdispatch.task import Task
from qdispatch.testing import bell, x_circuit
from qdispatch_aqt import client as client_module
from qdispatch_aqt.client import AQTClient
from qdispatch_aqt.credentials import StaticToken
from qdispatch_aqt.device import AQTDevice
from qdispatch_aqt.errors import AQTAPIError, AQTCredentialsError, AQTSubmitUncertainError
from qdispatch_aqt.executor import AQTExecutor
from qdispatch_aqt.testing.server import AQTServer

from .conftest import TOKEN
from .hostile import HostileServer, drip, huge


def _stored(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


# -- 1. tokens never leak, and a local refusal is not a lost submit ------------------------------------


def test_a_token_read_from_a_file_with_its_newline_works(aqt_backend: Callable[..., Backend]) -> None:
    backend = aqt_backend(token=TOKEN + "\n")
    job = backend.run(transpile(bell(), backend), shots=10)
    assert sum(job.result(timeout=30).get_counts().values()) == 10


def test_a_newline_token_without_look_up_is_neither_leaked_nor_called_a_lost_submit(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer, qdispatch_home: Path
) -> None:
    backend = aqt_backend(
        token="  " + TOKEN + "\n", num_qubits=4
    )  # no look-up: the submit is the first request
    job = backend.run(transpile(bell(), backend), shots=10)
    job.wait_for_final_state(timeout=30)
    assert job.status() is JobStatus.DONE, job.error_message
    job.persist()
    assert TOKEN.encode() not in _stored(qdispatch_home)


@pytest.mark.parametrize(
    "token", ["tok en-2b8c91", "tok\nen-2b8c91", "tok\x01en-2b8c91", "tökén-2b8c91", "t\ten-2b8c91"]
)
def test_tokens_with_inner_whitespace_control_or_non_ascii_are_refused_unquoted(
    aqt_provider: Provider, aqt_server: AQTServer, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for source in ("option", "environment"):
        options: dict[str, Any] = {
            "url": aqt_server.url,
            "workspace": "default",
            "resource": "offline_simulator_no_noise",
        }
        if source == "option":
            options["token"] = token
        else:
            monkeypatch.setenv("AQT_TOKEN", token)
        with pytest.raises(AQTCredentialsError, match="whitespace, control or non-ASCII") as caught:
            aqt_provider.get_backend("aqt", **options)
        assert "2b8c91" not in str(caught.value)
    assert aqt_server.requests == []


class _Refreshing:
    """Credentials whose refreshed token is malformed (a log-in service gone wrong)."""

    source = "a test log-in"

    def __init__(self, token: str) -> None:
        self.value = token

    def token(self) -> str:
        return self.value

    def invalidate(self, token: str) -> bool:
        return False


def test_a_request_refused_before_sending_is_not_reported_as_a_lost_submit(aqt_server: AQTServer) -> None:
    from qdispatch_aqt.convert import job_request
    from qdispatch_aqt.target import aqt_target

    bad = "eyJhbGciOi.secret\npart-77aa"
    client = AQTClient(aqt_server.url, _Refreshing(bad))
    try:
        with pytest.raises(AQTCredentialsError) as caught:
            request = job_request([transpile(bell(), target=aqt_target(2))], 10, "x")
            client.submit("default", "offline_simulator_no_noise", request)
    finally:
        client.close()
    assert not isinstance(caught.value, AQTSubmitUncertainError)
    assert "secret" not in str(caught.value) and "77aa" not in str(caught.value)
    assert "not sent" in str(caught.value)
    assert aqt_server.count("submit") == 0


@pytest.mark.parametrize("endpoint", ["workspaces", "submit", "result"])
def test_a_server_echoing_the_authorization_header_gets_no_token_into_errors_or_records(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer, qdispatch_home: Path, endpoint: str
) -> None:
    aqt_server.faults.endpoints = frozenset({endpoint})
    aqt_server.faults.forced = ["echo"]
    if endpoint == "workspaces":
        with pytest.raises(AQTAPIError) as caught:
            aqt_backend()
        assert "Bearer ***" in str(caught.value)
        assert TOKEN not in str(caught.value)
        return
    backend = aqt_backend(num_qubits=4)
    job = backend.run(transpile(bell(), backend), shots=10)
    job.wait_for_final_state(timeout=30)
    assert job.status() is JobStatus.ERROR
    assert "Bearer ***" in (job.error_message or "")
    assert TOKEN not in (job.error_message or "")
    job.persist()
    assert TOKEN.encode() not in _stored(qdispatch_home)


def test_a_job_failure_message_quoting_a_token_is_redacted(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    aqt_server.faults.fail_rate = 1.0
    aqt_server.faults.fail_message = f"rejected credentials {TOKEN} (Authorization: Bearer other-9f8e7d6c5b)"
    backend = aqt_backend(num_qubits=4)
    job = backend.run(transpile(bell(), backend), shots=10)
    job.wait_for_final_state(timeout=30)
    assert job.status() is JobStatus.ERROR
    message = job.error_message or ""
    assert TOKEN not in message and "other-9f8e7d6c5b" not in message
    assert "rejected credentials ***" in message


def test_the_redaction_helper_hides_known_secrets_bearer_values_and_credential_fields() -> None:
    from qdispatch_aqt.redact import redact, register_secret

    register_secret("cl-secret-4711abcd")
    text = (
        'client_secret=cl-secret-4711abcd; {"access_token": "eyJ0.eyJ1.sig"} '
        "Authorization: Bearer abc.def-ghi; refresh_token=r123; all fine"
    )
    cleaned = redact(text)
    for secret in ("cl-secret-4711abcd", "eyJ0.eyJ1.sig", "abc.def-ghi", "r123"):
        assert secret not in cleaned
    assert cleaned.endswith("all fine")


# -- 2. plain http only to loopback --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://arnica.example.com/api", "http://10.1.2.3:8042/api", "http://[2001:db8::1]/api"]
)
def test_plain_http_to_a_non_loopback_host_is_refused(aqt_provider: Provider, url: str) -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        aqt_provider.get_backend("aqt", url=url, token=TOKEN, workspace="w", resource="r", num_qubits=4)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.5.6.7", "[::1]", "localhost"])
def test_plain_http_to_loopback_stays_allowed(host: str) -> None:
    device = AQTDevice(url=f"http://{host}:1/api", token=TOKEN, workspace="w", resource="r", num_qubits=4)
    assert device.url.startswith("http://")


def test_plain_http_elsewhere_is_allowed_when_asked_for() -> None:
    options: dict[str, Any] = {"allow_insecure_http": True}
    device = AQTDevice(
        url="http://arnica.example.com/api", token=TOKEN, workspace="w", resource="r", num_qubits=4, **options
    )
    assert device.url == "http://arnica.example.com/api"


# -- 3. answers of the wrong shape fail the task ------------------------------------------------------------


@pytest.mark.parametrize(
    ("reshape", "says"),
    [
        (lambda s: {i: shots[:1] for i, shots in s.items()}, "1 samples for circuit 0; 10 were requested"),
        (
            lambda s: {i: shots * 100 for i, shots in s.items()},
            "1000 samples for circuit 0; 10 were requested",
        ),
        (lambda s: {i: [[*shot, 1] for shot in shots] for i, shots in s.items()}, "samples of 3 bits"),
        (lambda s: {i: [shot[:1] for shot in shots] for i, shots in s.items()}, "samples of 1 bits"),
        (lambda s: {**s, 1: s[0]}, "2 circuits; 1 were sent"),
        (lambda s: {5: s[0]}, "no samples for circuit 0"),
    ],
    ids=["one-shot", "hundredfold", "extra-bit", "missing-bit", "extra-circuit", "wrong-index"],
)
def test_answers_of_the_wrong_shape_fail_the_task(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer, reshape: Any, says: str
) -> None:
    aqt_server.faults.reshape = reshape
    backend = aqt_backend()
    job = backend.run(transpile(x_circuit(2, 1), backend), shots=10)
    job.wait_for_final_state(timeout=30)
    assert job.status() is JobStatus.ERROR
    assert says in (job.error_message or ""), job.error_message


# -- 4. a total deadline per request and a size cap ------------------------------------------------


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_dripping_server_cannot_hold_a_request_past_its_timeout(
    aqt_provider: Provider, headers_too: bool
) -> None:
    with HostileServer(drip(every=0.25, headers_too=headers_too)) as server:  # 18+ s in all
        backend = aqt_provider.get_backend(
            "aqt", url=server.url, token=TOKEN, workspace="default", resource="r", num_qubits=4, timeout=0.5
        )
        started = time.monotonic()
        job = backend.run(transpile(bell(), backend), shots=10)
        elapsed = time.monotonic() - started
        assert job.status() is JobStatus.ERROR
    assert elapsed < 2.5, elapsed
    assert "0.5 s" in (job.error_message or ""), job.error_message


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_answers_larger_than_the_cap_are_refused_without_reading_them_whole(
    aqt_provider: Provider, declared: bool
) -> None:
    cap = getattr(client_module, "MAX_RESPONSE_BYTES", 32 << 20)
    with HostileServer(huge(cap + (4 << 20), declared=declared)) as server:
        tracemalloc.start()
        try:
            with pytest.raises(AQTAPIError, match="larger than") as caught:
                aqt_provider.get_backend(
                    "aqt", url=server.url, token=TOKEN, workspace="default", resource="r"
                )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 2 * cap + (8 << 20), peak
    assert f"{cap // (1 << 20)} MiB" in str(caught.value)


# -- 5. remote ids from a record are checked before any request ----------------------------------------------


def test_a_forged_remote_job_id_in_a_record_sends_no_request(
    aqt_backend: Callable[..., Backend],
    aqt_provider: Provider,
    aqt_server: AQTServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AQT_TOKEN", TOKEN)
    monkeypatch.setenv("QDISPATCH_BACKENDS__AQT__URL", aqt_server.url)  # the endpoint the token is for
    backend = aqt_backend()
    job = backend.run(transpile(bell(), backend), shots=10)
    job.result(timeout=30)
    job.persist()
    record = aqt_provider.store.load(job.job_id())
    forged = [
        attrs.evolve(c, state={**c.state, "remote_job_id": "../../../elsewhere"}) for c in record.chunks
    ]
    aqt_provider.store.save(
        attrs.evolve(record, chunks=tuple(forged), status=JobStatus.QUEUED, result=None, finished_at=None)
    )
    seen = len(aqt_server.requests)
    restored = Job.restore(job.job_id(), store=aqt_provider.store)
    restored.wait_for_final_state(timeout=30)
    assert restored.status() is JobStatus.ERROR
    assert "not an AQT job id" in (restored.error_message or ""), restored.error_message
    # only the device's look-up of its resource; nothing built from the forged id
    assert [r.path for r in aqt_server.requests[seen:]] == [
        "/api/v1/workspaces",
        "/api/v1/resources/offline_simulator_no_noise",
    ]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.job_state("../workspaces"),
        lambda c: c.cancel("../../api/v1/workspaces"),
        lambda c: c.resource("../workspaces"),
        lambda c: c.resource(".."),
    ],
    ids=["result", "cancel", "resource", "dots"],
)
def test_ids_going_into_urls_are_checked_before_any_request(aqt_server: AQTServer, call: Any) -> None:
    client = AQTClient(aqt_server.url, StaticToken(TOKEN, "test"))
    try:
        with pytest.raises(AQTAPIError, match="not an AQT"):
            call(client)
    finally:
        client.close()
    assert aqt_server.requests == []


def test_a_workspace_or_resource_with_a_slash_is_refused(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    backend = aqt_backend(workspace="default/../../v1", num_qubits=4)
    job = backend.run(transpile(bell(), backend), shots=10)
    assert job.status() is JobStatus.ERROR
    assert "not an AQT workspace id" in (job.error_message or "")
    assert aqt_server.count("submit") == 0


# -- 6. no socket left unclosed --------------------------------------------------------------------


RUN_AND_EXIT = """
import gc, sys, warnings
warnings.simplefilter("error", ResourceWarning)
from qiskit import transpile
from qdispatch import Provider
from qdispatch.plugins import reset_plugin_manager
from qdispatch.testing import bell

with Provider() as provider:
    backend = provider.get_backend("aqt", url=sys.argv[1], token=sys.argv[2], workspace="default",
                                   resource="offline_simulator_no_noise")
    print(backend.run(transpile(bell(), backend), shots=10).result(timeout=30).get_counts())
del backend, provider
reset_plugin_manager()  # what a test suite does between tests: the devices go
gc.collect()
"""


def test_an_aqt_run_leaves_no_unclosed_socket_at_exit(aqt_server: AQTServer) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-c", RUN_AND_EXIT, aqt_server.url, TOKEN],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "ResourceWarning" not in done.stderr and "unclosed" not in done.stderr, done.stderr


def test_a_device_that_fails_to_build_or_is_dropped_closes_its_connections(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(ConfigurationError):
            aqt_backend(resource="ibex")  # the look-up opened a connection, then the device failed
        device = AQTDevice(
            url=aqt_server.url, token=TOKEN, workspace="default", resource="offline_simulator_noise"
        )
        del device
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


# -- 7. the remote id is reported as soon as the submit answers ------------------------------------


def test_the_remote_job_id_is_reported_before_the_first_poll(aqt_server: AQTServer) -> None:
    device = AQTDevice(
        url=aqt_server.url,
        token=TOKEN,
        workspace="default",
        resource="offline_simulator_no_noise",
        num_qubits=4,
    )
    events: list[tuple[str, Any, int, int]] = []

    def listen(kind: str, payload: Any) -> None:
        events.append((kind, payload, aqt_server.count("submit", answered=True), aqt_server.count("result")))

    task = Task(
        job_id="j",
        index=0,
        circuits=CircuitBatch([transpile(bell(), device.target)]),
        backend="aqt",
        backend_options={},
        shots=10,
        run_options={},
        listener=listen,
        device=device,
    )
    executor = AQTExecutor(poll_initial=1e-6)
    try:
        executor.submit(task).result(timeout=30)
    finally:
        executor.shutdown()
    kind, payload, submits, polls = events[0]
    (remote,) = aqt_server.jobs.jobs
    assert kind == "state" and payload[1]["remote_job_id"] == str(remote)
    assert (submits, polls) == (1, 0)
