"""AQT's offline simulators: AQT's target and limits, simulated by qdispatch-aer in the normal executors."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.providers import JobStatus

from qdispatch import InvalidInputError, Provider
from qdispatch.testing import seed_circuit


def test_seed_example_gives_all_ones(aqt_provider: Provider) -> None:
    backend = aqt_provider.get_backend("aqt_offline_simulator_no_noise", seed_simulator=11)
    job = backend.run(transpile(seed_circuit(), backend), shots=100)
    assert job.result().get_counts() == {"1": 100}
    assert job.executor_name == "thread"


def test_target_is_native_r_rz_rxx_all_to_all_with_twenty_qubits(aqt_provider: Provider) -> None:
    backend = aqt_provider.get_backend("aqt_offline_simulator_no_noise")
    assert backend.target.num_qubits == 20
    assert set(backend.target.operation_names) == {"r", "rz", "rxx", "measure"}
    assert backend.target.build_coupling_map() is None  # every pair of ions interacts
    assert backend.max_circuits == 50
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.ccx(0, 1, 2)
    qc.swap(0, 2)
    qc.measure_all()
    assert set(transpile(qc, backend).count_ops()) <= {"r", "rz", "rxx", "measure", "barrier"}


def test_noisy_simulator_adds_errors_the_noiseless_one_has_not(aqt_provider: Provider) -> None:
    ghz = QuantumCircuit(5)
    ghz.h(0)
    for q in range(4):
        ghz.cx(q, q + 1)
    ghz.measure_all()
    outcomes = {}
    for name in ("aqt_offline_simulator_no_noise", "aqt_offline_simulator_noise"):
        backend = aqt_provider.get_backend(name, seed_simulator=3)
        outcomes[name] = (
            backend.run(transpile(ghz, backend, seed_transpiler=1), shots=2000).result().get_counts()
        )
    assert set(outcomes["aqt_offline_simulator_no_noise"]) == {"00000", "11111"}
    assert set(outcomes["aqt_offline_simulator_noise"]) > {"00000", "11111"}


def test_shots_above_aqt_limit_are_refused_before_running(aqt_provider: Provider) -> None:
    backend = aqt_provider.get_backend("aqt_offline_simulator_no_noise")
    with pytest.raises(InvalidInputError, match="2000"):
        backend.run(transpile(seed_circuit(), backend), shots=2001)


def test_a_circuit_aqt_could_not_run_fails_offline_too(aqt_provider: Provider) -> None:
    backend = aqt_provider.get_backend("aqt_offline_simulator_no_noise")
    qc = QuantumCircuit(1, 2)
    qc.r(1.0, 0.0, 0)
    qc.measure(0, 0)
    qc.r(1.0, 0.0, 0)  # a gate after the measurement: AQT measures once, at the end
    qc.measure(0, 1)
    job = backend.run(qc, shots=10)
    job.wait_for_final_state(timeout=30)
    assert job.status() is JobStatus.ERROR
    assert "after measuring it" in (job.error_message or "")


def test_offline_simulator_runs_in_the_process_executor(qdispatch_home: object) -> None:
    with Provider(executor="process", executor_options={"max_workers": 1}) as provider:
        backend = provider.get_backend("aqt_offline_simulator_no_noise", seed_simulator=5)
        job = backend.run(transpile(seed_circuit(), backend), shots=50)
        assert job.result(timeout=60).get_counts() == {"1": 50}
        assert job.executor_name == "process"
