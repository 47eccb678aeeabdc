"""The qdispatch-aer simulators: aer and aer_noisy, with real Aer runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.primitives import BackendEstimatorV2, BackendSamplerV2
from qiskit.quantum_info import SparsePauliOp

from qdispatch import BackendError, ConfigurationError, InvalidInputError, Provider
from qdispatch.testing import bell, seed_circuit, x_circuit


def test_aer_is_a_backendv2_with_aer_target(provider: Provider) -> None:
    backend = provider.get_backend("aer")
    assert backend.name == "aer"
    assert backend.num_qubits >= 20 and "cx" in backend.target.operation_names


def test_seeded_runs_are_reproducible(provider: Provider) -> None:
    backend = provider.get_backend("aer", seed_simulator=1234)
    first = backend.run(bell(), shots=200).result().get_counts()
    second = backend.run(bell(), shots=200).result().get_counts()
    assert first == second and set(first) == {"00", "11"}


def test_sampler_and_estimator_primitives_work(provider: Provider) -> None:
    backend = provider.get_backend("aer", seed_simulator=3)
    sampler = BackendSamplerV2(backend=backend)
    pub_result = sampler.run([transpile(bell(), backend)], shots=300).result()[0]
    counts = pub_result.data.meas.get_counts()
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 300
    qc = QuantumCircuit(1)
    qc.rx(np.pi, 0)
    estimator = BackendEstimatorV2(backend=backend)
    value = estimator.run([(transpile(qc, backend), SparsePauliOp("Z"))]).result()[0].data.evs
    assert float(value) == pytest.approx(-1.0, abs=0.1)


def test_noisy_backend_has_a_reduced_target_and_makes_errors(provider: Provider) -> None:
    backend = provider.get_backend(
        "aer_noisy", depolarizing_1q=0.05, depolarizing_2q=0.2, readout_error=0.1, seed_simulator=1
    )
    assert set(backend.target.operation_names) >= {"rz", "sx", "x", "cx", "measure"}
    assert "h" not in backend.target.operation_names
    counts = backend.run(transpile(bell(), backend), shots=2000).result().get_counts()
    assert counts.get("01", 0) + counts.get("10", 0) > 100  # noise shows


def test_noiseless_parameters_give_perfect_results(provider: Provider) -> None:
    backend = provider.get_backend("aer_noisy", depolarizing_1q=0.0, depolarizing_2q=0.0, readout_error=0.0)
    assert backend.run(transpile(x_circuit(3, 2), backend), shots=100).result().get_counts() == {"011": 100}


def test_thermal_relaxation_and_fingerprint(provider: Provider) -> None:
    plain = provider.get_backend("aer_noisy")
    relaxed = provider.get_backend("aer_noisy", t1=50e-6, t2=70e-6)
    job_plain = plain.run(transpile(bell(), plain), shots=10)
    job_relaxed = relaxed.run(transpile(bell(), relaxed), shots=10)
    job_plain.result()
    job_relaxed.result()
    first = job_plain.to_record().provenance.noise_fingerprint
    second = job_relaxed.to_record().provenance.noise_fingerprint
    assert first and second and first != second
    assert provider.get_backend("aer").run(bell(), shots=5).to_record().provenance.noise_fingerprint is None


def test_noise_model_from_dictionary_and_file(provider: Provider, tmp_path: Path) -> None:
    from qiskit_aer.noise import NoiseModel, ReadoutError

    model = NoiseModel()
    model.add_all_qubit_readout_error(ReadoutError([[0.0, 1.0], [1.0, 0.0]]))  # always flips
    data = model.to_dict(serializable=True)
    backend = provider.get_backend("aer_noisy", noise_model=data)
    assert backend.run(transpile(x_circuit(1, 0), backend), shots=50).result().get_counts() == {"1": 50}
    path = tmp_path / "noise.json"
    path.write_text(json.dumps(data))
    from_file = provider.get_backend("aer_noisy", noise_model=str(path))
    assert from_file.run(transpile(x_circuit(1, 1), from_file), shots=50).result().get_counts() == {"0": 50}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"depolarizing_1q": 1.5}, "probability"),
        ({"readout_error": "high"}, "probability"),
        ({"t1": 1e-5}, "both t1 and t2"),
        ({"t1": 1e-5, "t2": 5e-5}, "cannot exceed"),
        ({"noise_model": {"errors": "nope"}}, "not a valid NoiseModel"),
        ({"noise_model": "/nonexistent/noise.json"}, "cannot read noise model file"),
        ({"noise_model": {}, "readout_error": 0.1}, "either noise_model or noise parameters"),
    ],
)
def test_bad_noise_options(provider: Provider, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        provider.get_backend("aer_noisy", **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "quantum_magic"}, "method"),
        ({"device": "TPU"}, "device must be one of"),
        ({"seed_simulator": -1}, "seed_simulator"),
    ],
)
def test_bad_aer_options(provider: Provider, options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        provider.get_backend("aer", **options)


def test_gpu_without_aer_gpu_is_a_clear_error(provider: Provider) -> None:
    from qiskit_aer import AerSimulator

    if "GPU" in AerSimulator().available_devices():
        pytest.skip("this machine has a GPU build of Aer")
    with pytest.raises(BackendError, match="install qiskit-aer-gpu"):
        provider.get_backend("aer", device="GPU")


@pytest.mark.parametrize(
    ("shots", "message"),
    [
        (0, "at least 1"),
        (-5, "at least 1"),
        (2.5, "whole number"),
        ("100", "whole number"),
        (True, "whole number"),
        (10_000_001, "above the maximum"),
    ],
)
def test_shots_are_validated_before_submission(provider: Provider, shots: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        provider.get_backend("aer").run(seed_circuit(), shots=shots)
    assert provider.jobs() == []


def test_circuits_wider_than_the_target_are_refused(provider: Provider) -> None:
    backend = provider.get_backend("aer_noisy", num_qubits=3)
    with pytest.raises(InvalidInputError, match="has 4 qubits; backend 'aer_noisy' has 3"):
        backend.run(x_circuit(4, 0), shots=10)
