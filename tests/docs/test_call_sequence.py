"""The call-sequence diagram in docs/concepts.md is what the code does, and calls go one way.

The test runs the diagram's sequence (run, persist, restore, cancel) under a
profiler, in the calling thread, and records which class's method called which.
Every arrow of the diagram must be among the calls seen, in the diagram's order;
and while the provider works, nothing it called calls back into it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import attrs
from qiskit.providers import JobStatus

from qdispatch import Provider
from qdispatch.testing import seed_circuit

CONCEPTS = Path(__file__).parents[2] / "docs" / "concepts.md"
ARROW = re.compile(r"^\s*(\w+)(-?->>)(\w+):\s*(\w+)\(")
PARTICIPANTS = {
    "Backend": "Backend",
    "Provider": "Provider",
    "Job": "Job",
    "JobLifecycle": "JobLifecycle",
    "ThreadExecutor": "Executor",
    "SqliteStore": "Store",
}
"""qdispatch classes, by the participant name the diagram gives them."""


def diagram_arrows() -> list[tuple[str, str, str]]:
    """Return ``(caller, callee, method)`` for each arrow of the sequence diagram."""
    text = CONCEPTS.read_text(encoding="utf-8")
    block = text.split("```mermaid\nsequenceDiagram", 1)[1].split("```", 1)[0]
    return [(m[1], m[3], m[4]) for line in block.splitlines() if (m := ARROW.match(line))]


def _participant(frame: FrameType | None) -> str | None:
    """The diagram participant whose method ``frame`` runs, if any."""
    if frame is None:
        return None
    cls = frame.f_code.co_qualname.split(".")[0]
    return PARTICIPANTS.get(cls)


def trace_calls(action: Any) -> list[tuple[str, str, str]]:
    """Run ``action()`` and return ``(caller, callee, method)`` for calls between participants.

    A call from outside every participant (the test itself) is recorded as from ``User``.
    """
    calls: list[tuple[str, str, str]] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        callee = _participant(frame)
        if callee is None:
            return
        caller_frame = frame.f_back
        caller = _participant(caller_frame)
        while caller is None and caller_frame is not None and "qdispatch" in caller_frame.f_code.co_filename:
            caller_frame = caller_frame.f_back  # through helpers (validation, records) to the owning class
            caller = _participant(caller_frame)
        method = frame.f_code.co_name
        if caller != callee:
            calls.append((caller or "User", callee, method))

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return calls


def test_the_diagram_names_real_calls_in_order(provider: Provider) -> None:
    box: dict[str, Any] = {}

    def sequence() -> None:
        job = provider.get_backend("aer").run(seed_circuit(), shots=10)
        job.result()
        job.persist()
        provider.restore(job.job_id())
        waiting = attrs.evolve(
            job.to_record(), job_id="waiting", status=JobStatus.QUEUED, result=None, finished_at=None
        )
        provider.store.save(waiting)
        provider.cancel("waiting")
        box["job"] = job

    provider.get_backend("aer").run(seed_circuit(), shots=1).result()  # warm up: imports, executor, store
    calls = trace_calls(sequence)
    arrows = diagram_arrows()
    assert len(arrows) >= 12
    position = 0
    for arrow in arrows:
        try:
            position = calls.index(arrow, position) + 1
        except ValueError:
            raise AssertionError(
                f"the diagram's arrow {arrow} is not among the calls, in order: {calls}"
            ) from None
    assert provider.store.load("waiting").status is JobStatus.CANCELLED


def test_nothing_calls_back_into_the_provider(provider: Provider) -> None:
    def sequence() -> None:
        job = provider.get_backend("aer").run(seed_circuit(), shots=10)
        job.result()
        job.persist(provider.store)
        provider.restore(job.job_id())
        provider.cancel(job)

    calls = trace_calls(sequence)
    backwards = [
        c for c in calls if c[1] == "Provider" and c[0] in ("Job", "JobLifecycle", "Executor", "Store")
    ]
    assert backwards == []
    from_lifecycle = {c for c in calls if c[0] == "JobLifecycle"}
    assert {callee for _, callee, _ in from_lifecycle} <= {"Job"}  # only the callbacks it was given
    assert {method for *_, method in from_lifecycle} <= {"_submit_task", "_on_events", "_open_gate"}
