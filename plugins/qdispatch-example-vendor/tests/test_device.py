"""The example_vendor backend: its target, its noise, its limits and its options."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit, transpile

from qdispatch import ConfigurationError, InvalidInputError, Provider
from qdispatch.contract import check_backend
from qdispatch.testing import x_circuit
from qdispatch_example_vendor.device import COUPLING, check_connectivity


def ghz(n: int) -> QuantumCircuit:
    """An n-qubit GHZ state with a long-range gate the device must route around."""
    qc = QuantumCircuit(n)
    qc.h(0)
    for q in range(1, n):
        qc.cx(0, q)
    qc.measure_all()
    return qc


def test_target_is_five_qubits_in_a_line_with_native_cz(provider: Provider) -> None:
    target = provider.get_backend("example_vendor").target
    assert target.num_qubits == 5
    assert set(target.operation_names) == {"rz", "sx", "x", "cz", "measure", "reset"}
    edges = set(target.build_coupling_map().get_edges())
    assert edges == {*COUPLING, *((b, a) for a, b in COUPLING)}
    assert target["cz"][(0, 1)].error == pytest.approx(0.01)


def test_transpiled_circuits_fit_and_run_with_little_noise(provider: Provider) -> None:
    backend = provider.get_backend("example_vendor", seed_simulator=5)
    compiled = transpile(ghz(5), backend, seed_transpiler=1)
    assert set(compiled.count_ops()) <= {"rz", "sx", "x", "cz", "measure", "barrier"}
    check_connectivity(compiled, 0, "example_vendor")  # raises if a cz spans non-neighbours
    counts = backend.run(compiled, shots=2000).result().get_counts()
    assert sum(counts.values()) == 2000
    assert (counts.get("00000", 0) + counts.get("11111", 0)) / 2000 > 0.6
    assert set(counts) - {"00000", "11111"}, "a noisy device shows some other outcomes"


def test_error_rates_are_options(provider: Provider) -> None:
    exact = provider.get_backend("example_vendor", error_1q=0, error_2q=0, readout_error=0)
    assert exact.run(transpile(x_circuit(5, 5), exact), shots=500).result().get_counts() == {"11111": 500}
    noisy = provider.get_backend("example_vendor", readout_error=0.2, seed_simulator=3)
    counts = noisy.run(transpile(x_circuit(5, 5), noisy), shots=2000).result().get_counts()
    assert 0.2 < counts.get("11111", 0) / 2000 < 0.5  # 0.8 ** 5 = 0.33


def test_a_gate_between_distant_qubits_is_refused_before_submission(provider: Provider) -> None:
    qc = QuantumCircuit(5)
    qc.cz(0, 3)
    qc.measure_all()
    with pytest.raises(InvalidInputError, match="cz to qubits 0 and 3, which are not neighbours"):
        provider.get_backend("example_vendor").run(qc, shots=10)
    assert provider.jobs() == []


def test_options_are_checked(provider: Provider) -> None:
    with pytest.raises(ConfigurationError, match="readout_error must be a probability"):
        provider.get_backend("example_vendor", readout_error=1.5)
    with pytest.raises(ConfigurationError, match=r"unknown option 'noise'.*error_1q"):
        provider.get_backend("example_vendor", noise=0.1)
    with pytest.raises(ConfigurationError, match="seed_simulator"):
        provider.get_backend("example_vendor", seed_simulator=-1)
    backend = provider.get_backend("example_vendor")
    with pytest.raises(InvalidInputError, match="maximum"):
        backend.run(transpile(x_circuit(1, 1), backend), shots=100_001)
    with pytest.raises(InvalidInputError, match="6 qubits"):
        backend.run(x_circuit(6, 1))


def test_seeded_runs_repeat_and_the_noise_is_fingerprinted(provider: Provider) -> None:
    backend = provider.get_backend("example_vendor", seed_simulator=11)
    circuit = transpile(ghz(3), backend, seed_transpiler=1)
    first, second = (backend.run(circuit, shots=500) for _ in range(2))
    assert first.result().get_counts() == second.result().get_counts()
    provenance = first.to_record().provenance
    assert provenance.seed == 11 and provenance.simulator_version
    other = provider.get_backend("example_vendor", error_2q=0.05)
    other_provenance = other.run(transpile(ghz(3), other), shots=10).to_record().provenance
    assert provenance.noise_fingerprint and other_provenance.noise_fingerprint != provenance.noise_fingerprint


def test_large_jobs_are_split_into_tasks_of_at_most_50_circuits(provider: Provider) -> None:
    backend = provider.get_backend("example_vendor", error_1q=0, error_2q=0, readout_error=0)
    circuits = [transpile(x_circuit(2, k % 3), backend) for k in range(120)]
    job = backend.run(circuits, shots=20)
    result = job.result(timeout=120)
    assert [(c.start, c.stop) for c in job.to_record().chunks] == [(0, 50), (50, 100), (100, 120)]
    assert job.progress().finished_count == 120
    assert [result.get_counts(k) for k in (0, 1, 2, 119)] == [{"00": 20}, {"01": 20}, {"11": 20}, {"11": 20}]


def test_the_device_keeps_the_contract() -> None:
    check_backend("example_vendor").assert_ok()
