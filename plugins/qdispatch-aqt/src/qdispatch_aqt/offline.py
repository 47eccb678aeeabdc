"""AQT's offline simulators: Aer behind AQT's target and limits, with or without AQT's noise."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qdispatch.errors import ConfigurationError
from qdispatch_aer.device import AerDevice
from qdispatch_aqt.convert import job_request
from qdispatch_aqt.target import MAX_CIRCUITS, MAX_QUBITS, MAX_SHOTS, OFFLINE_QUBITS, aqt_target

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.result import Result
    from qiskit_aer.noise import NoiseModel

DEPOLARIZING_R = 0.003
"""Depolarizing probability after each R gate of ``aqt_offline_simulator_noise`` (as AQT's)."""

DEPOLARIZING_RXX = 0.01
"""Depolarizing probability after each RXX gate of ``aqt_offline_simulator_noise`` (as AQT's)."""


def aqt_noise_model() -> NoiseModel:
    """Return the noise model of AQT's noisy offline simulator."""
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    model = NoiseModel(basis_gates=["r", "rz", "rxx"])
    model.add_all_qubit_quantum_error(depolarizing_error(DEPOLARIZING_R, 1), ["r"])
    model.add_all_qubit_quantum_error(depolarizing_error(DEPOLARIZING_RXX, 2), ["rxx"])
    return model


class AQTOfflineDevice:
    """Runs circuits on Aer in this process, holding them to AQT's target and limits.

    Every batch is first converted to AQT's API payload and validated with
    AQT's models, so a circuit that runs here also runs on AQT's cloud.

    :param name: the backend name.
    :param noisy: use AQT's noise model.
    :param num_qubits: the simulated width (AQT's offline simulators have 20).
    :param seed_simulator: seed for reproducible sampling.
    :param method: Aer's simulation method.
    :param max_parallel_threads: Aer's thread limit.
    """

    max_shots = MAX_SHOTS
    max_circuits: int | None = MAX_CIRCUITS
    executor: str | None = None
    secret_options: frozenset[str] = frozenset()

    def __init__(
        self,
        *,
        name: str,
        noisy: bool,
        num_qubits: int = OFFLINE_QUBITS,
        seed_simulator: int | None = None,
        method: str = "statevector",
        max_parallel_threads: int | None = None,
    ) -> None:
        if (
            isinstance(num_qubits, bool)
            or not isinstance(num_qubits, int)
            or not 1 <= num_qubits <= MAX_QUBITS
        ):
            raise ConfigurationError(
                f"num_qubits must be an integer from 1 to {MAX_QUBITS}, not {num_qubits!r}"
            )
        self.name = name
        self.aer = AerDevice(
            name=name,
            method=method,
            seed_simulator=seed_simulator,
            max_parallel_threads=max_parallel_threads,
            noise_model=aqt_noise_model() if noisy else None,
            num_qubits=num_qubits,
        )
        self.target = aqt_target(num_qubits)

    def run_circuits(
        self, circuits: Sequence[QuantumCircuit], shots: int, run_options: Mapping[str, Any]
    ) -> Result:
        """Check the circuits convert to AQT's payload, then simulate them with Aer."""
        job_request(circuits, shots, label=self.name)
        return self.aer.run_circuits(circuits, shots, run_options)

    def provenance(self) -> dict[str, Any]:
        """Return Aer's provenance (simulator, version, seed, noise fingerprint)."""
        return self.aer.provenance()
