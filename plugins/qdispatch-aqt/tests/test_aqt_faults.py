"""Sturdiness: failed reads are retried until every job finishes, and no submit is ever sent twice."""

from __future__ import annotations

import time
from collections.abc import Callable

from qiskit import transpile

from qdispatch import Backend
from qdispatch_aqt.testing.server import AQTServer


def test_fifty_jobs_finish_correctly_despite_5xx_answers_and_dropped_connections(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    from qdispatch.testing import x_circuit

    backend = aqt_backend()
    aqt_server.faults.endpoints = frozenset({"result"})
    aqt_server.faults.forced = ["drop", "error", "error", "drop"]  # so both kinds surely happen
    aqt_server.faults.error_rate = 0.20
    aqt_server.faults.drop_rate = 0.05
    circuits = [transpile(x_circuit(4, i % 5), backend) for i in range(50)]
    jobs = [backend.run(circuit, shots=20) for circuit in circuits]
    expected = ["0000", "0001", "0011", "0111", "1111"]
    for i, job in enumerate(jobs):
        assert job.result(timeout=60).get_counts() == {expected[i % 5]: 20}
    assert aqt_server.count("submit") == 50
    faulted = [r for r in aqt_server.requests if r.fault in ("error", "drop")]
    assert len(faulted) >= 4 and {r.fault for r in faulted} == {"error", "drop"}
    assert all(r.endpoint == "result" for r in faulted)


def test_answers_slower_than_the_client_timeout_are_retried(
    aqt_backend: Callable[..., Backend], aqt_server: AQTServer
) -> None:
    from qdispatch.testing import bell

    backend = aqt_backend(timeout=0.3)
    aqt_server.faults.slow_seconds = 0.6
    aqt_server.faults.forced = ["slow", "slow", "slow"]  # each one times out on the client
    jobs = [backend.run(transpile(bell(), backend), shots=10) for _ in range(3)]
    for job in jobs:
        assert sum(job.result(timeout=60).get_counts().values()) == 10
    assert aqt_server.count("submit") == 3
    assert aqt_server.faults.forced == []
    deadline = time.monotonic() + 10  # a slow answer is logged once its wait is over
    while sum(r.fault == "slow" for r in aqt_server.requests) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
