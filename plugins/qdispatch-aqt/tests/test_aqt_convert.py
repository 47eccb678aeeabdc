"""Circuits to AQT's payload (checked with AQT's official models) and AQT's shots back to counts."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from aqt_connector.models.arnica.request_bodies.jobs import SubmitJobRequest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, transpile
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Operator
from qiskit_aer import AerSimulator

from qdispatch import Backend
from qdispatch_aqt.convert import aqt_to_circuit, job_request, make_result
from qdispatch_aqt.errors import AQTConversionError
from qdispatch_aqt.target import aqt_target

TARGET = aqt_target(5)


def _unitary_without_measurements(circuit: QuantumCircuit) -> Operator:
    copy = circuit.copy()
    copy.remove_final_measurements()
    return Operator(copy)


@pytest.mark.parametrize("seed", range(12))
def test_transpiled_random_circuits_convert_to_a_valid_payload_with_the_same_unitary(seed: int) -> None:
    original = random_circuit(4, 5, measure=True, seed=seed)
    transpiled = transpile(original, target=TARGET, optimization_level=seed % 4, seed_transpiler=seed)
    request = job_request([transpiled], shots=100, label="test")
    # the official model accepts the JSON a client would send
    sent = SubmitJobRequest.model_validate_json(request.model_dump_json())
    (circuit,) = sent.payload.circuits
    assert circuit.repetitions == 100
    assert circuit.quantum_circuit.root[-1].root.operation == "MEASURE"
    rebuilt = aqt_to_circuit(circuit)
    assert _unitary_without_measurements(rebuilt).equiv(_unitary_without_measurements(transpiled))


ANGLES = [-9.0, -math.pi, -2.0, -math.pi / 2, -0.3, 0.0, 0.4, math.pi / 2, 2.0, math.pi, 4.0, 7.5]


@pytest.mark.parametrize("theta", ANGLES)
def test_angles_are_wrapped_into_the_api_ranges_without_changing_the_gate(theta: float) -> None:
    qc = QuantumCircuit(2)
    qc.r(theta, -theta, 0)
    qc.rxx(theta, 0, 1)
    qc.rz(3 * theta, 1)
    qc.measure_all()
    (circuit,) = job_request([qc], shots=1).payload.circuits
    for item in circuit.quantum_circuit.root:
        op = item.root
        if op.operation == "R":
            assert 0 <= op.theta <= 1 and 0 <= op.phi <= 2
        elif op.operation == "RXX":
            assert 0 <= op.theta <= 0.5
    assert _unitary_without_measurements(aqt_to_circuit(circuit)).equiv(_unitary_without_measurements(qc))


def test_a_gate_aqt_lacks_is_refused_with_advice() -> None:
    qc = QuantumCircuit(2)
    qc.cx(0, 1)
    qc.measure_all()
    with pytest.raises(AQTConversionError, match=r"uses cx.*transpile"):
        job_request([qc], shots=10)


def test_a_circuit_without_measurements_is_refused() -> None:
    qc = QuantumCircuit(1)
    qc.r(1.0, 0.0, 0)
    with pytest.raises(AQTConversionError, match="measures nothing"):
        job_request([qc], shots=10)


def test_shots_and_circuit_limits_come_from_the_official_models() -> None:
    qc = QuantumCircuit(1)
    qc.measure_all()
    with pytest.raises(AQTConversionError, match="repetitions"):
        job_request([qc], shots=2001)
    with pytest.raises(AQTConversionError, match="circuits"):
        job_request([qc] * 51, shots=10)


def test_shots_map_to_classical_bits_through_the_measurements() -> None:
    q = QuantumRegister(3, "q")
    low, high = ClassicalRegister(1, "low"), ClassicalRegister(2, "high")
    qc = QuantumCircuit(q, low, high)
    qc.measure(q[2], low[0])  # qubit 2 -> clbit 0
    qc.measure(q[0], high[1])  # qubit 0 -> clbit 2; clbit 1 is never written
    shots = [[1, 0, 0], [1, 1, 1], [0, 0, 1], [0, 1, 0]]  # qubit 0 first
    result = make_result([qc], {0: shots}, backend_name="aqt", job_id="j", memory=True)
    assert result.get_counts() == {"10 0": 1, "10 1": 1, "00 1": 1, "00 0": 1}
    assert result.get_memory() == ["10 0", "10 1", "00 1", "00 0"]


def test_results_missing_a_circuit_are_an_error() -> None:
    qc = QuantumCircuit(1)
    qc.measure_all()
    with pytest.raises(AQTConversionError, match="no samples for circuit 1"):
        make_result([qc, qc], {0: [[0]]}, backend_name="aqt", job_id="j")


def _total_variation(a: dict[str, int], b: dict[str, int]) -> float:
    total_a, total_b = sum(a.values()), sum(b.values())
    return 0.5 * sum(abs(a.get(k, 0) / total_a - b.get(k, 0) / total_b) for k in set(a) | set(b))


def test_counts_from_the_local_server_match_aer_on_the_original_circuits(
    aqt_backend: Callable[..., Backend],
) -> None:
    backend = aqt_backend()
    originals = [random_circuit(3, 4, measure=True, seed=100 + i) for i in range(6)]
    transpiled = transpile(originals, backend, seed_transpiler=1)
    remote = backend.run(transpiled, shots=2000).result(timeout=60)
    aer = AerSimulator()
    reference = aer.run(transpile(originals, aer), shots=20000, seed_simulator=1).result()
    for index in range(len(originals)):
        distance = _total_variation(remote.get_counts(index), reference.get_counts(index))
        # sampling noise of 2000 shots over at most 8 outcomes stays far below 0.1 (fixed seeds)
        assert distance < 0.1, (index, distance)
