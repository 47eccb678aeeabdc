"""Every task's result is matched to the circuits it was sent: a wrong answer never passes as DONE."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.result import Result

from qdispatch import Provider, hookimpl
from qdispatch.contract import ProbeDevice, check_backend, probe_circuits
from qdispatch.plugins import PluginManager


class ManglingDevice(ProbeDevice):
    """Simulates correctly, then spoils the result as its ``mangle`` option says."""

    name = "mangler"

    def __init__(self, mangle: str = "none") -> None:
        super().__init__()
        self.mangle = mangle

    def run_circuits(
        self, circuits: Sequence[QuantumCircuit], shots: int, run_options: Mapping[str, Any]
    ) -> Result:
        """Run ``circuits``, then drop, reverse, duplicate or rename their results."""
        mangle = run_options.get("mangle", self.mangle)
        if mangle == "first-only":  # runs circuit 0 every time, labelled as each circuit
            first = super().run_circuits([circuits[0]], shots, {})
            results = []
            for circuit in circuits:
                copy = first.results[0].__class__.from_dict(first.results[0].to_dict())
                copy.header = {**copy.header, "name": circuit.name}
                results.append(copy)
            first.results = results
            return first
        result = super().run_circuits(circuits, shots, run_options)
        if mangle == "drop":
            result.results = result.results[:-1]
        elif mangle == "reverse":
            result.results = result.results[::-1]
        elif mangle == "duplicate":
            result.results = [result.results[0], *result.results[:-1]]
        elif mangle == "unnamed":
            for experiment in result.results:
                experiment.header = {k: v for k, v in experiment.header.items() if k != "name"}
        return result


@pytest.fixture
def mangler(plugin_manager: PluginManager) -> Iterator[None]:
    class Plugin:
        @hookimpl
        def register_backends(self, register: Any) -> None:
            register("mangler", ManglingDevice)

    plugin_manager.register(Plugin(), name="mangler-plugin")
    try:
        yield
    finally:
        plugin_manager.unregister(name="mangler-plugin")


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        ("drop", "returned 2 result(s) for the 3 circuit(s) 0..2"),
        ("reverse", "returned the result of 'probe-2' in the place of circuit 0 ('probe-0')"),
        ("duplicate", "returned the result of 'probe-0' in the place of circuit 1 ('probe-1')"),
        ("unnamed", "returned no circuit name in the place of circuit 0"),
    ],
)
def test_a_result_that_does_not_match_its_circuits_errors_the_job(
    provider: Provider, mangler: None, mangle: str, message: str
) -> None:
    job = provider.get_backend("mangler").run(probe_circuits(0, 3), shots=10, mangle=mangle)
    job.wait_for_final_state(timeout=30, wait=0.05)
    assert job.status() is JobStatus.ERROR
    assert job.error_message is not None
    assert "backend 'mangler'" in job.error_message and message in job.error_message
    assert job.progress().finished_count == 0


def test_a_mismatch_in_one_chunk_names_the_circuits_of_that_chunk(provider: Provider, mangler: None) -> None:
    job = provider.get_backend("mangler").run(
        probe_circuits(0, 4), shots=10, mangle="drop", max_circuits_per_task=2
    )
    job.wait_for_final_state(timeout=30, wait=0.05)
    assert job.status() is JobStatus.ERROR
    assert "task 0: backend 'mangler' returned 1 result(s) for the 2 circuit(s) 0..1" in (
        job.error_message or ""
    )
    assert "task 1: backend 'mangler' returned 1 result(s) for the 2 circuit(s) 2..3" in (
        job.error_message or ""
    )


def test_matched_results_pass(provider: Provider, mangler: None) -> None:
    job = provider.get_backend("mangler").run(probe_circuits(0, 4), shots=10, max_circuits_per_task=3)
    assert job.result(timeout=30).get_counts() == [{"00": 10}, {"01": 10}, {"10": 10}, {"11": 10}]


@pytest.mark.parametrize("mangle", ["drop", "reverse", "duplicate", "first-only"])
def test_check_plugin_fails_a_device_that_spoils_results(mangler: None, mangle: str) -> None:
    report = check_backend("mangler", {"mangle": mangle})
    assert not report.ok
    assert [c.name for c in report.failed] == ["run", "persist/restore round trip"]


def test_check_plugin_passes_the_honest_device(mangler: None) -> None:
    report = check_backend("mangler")
    assert report.ok, report.failed
