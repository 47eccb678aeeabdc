"""The device behind the ``aer`` and ``aer_noisy`` backends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import qiskit_aer
from qiskit.circuit.library import Measure, Reset
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator

from qdispatch.errors import BackendError, ConfigurationError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.result import Result
    from qiskit_aer.noise import NoiseModel

MAX_SHOTS = 10_000_000
"""The most shots one circuit may ask of an Aer backend."""

DEVICES = ("CPU", "GPU")


class AerDevice:
    """Runs circuits on an ``AerSimulator`` in the current process.

    :param name: the backend name (``aer`` or ``aer_noisy``).
    :param method: Aer simulation method (``automatic``, ``statevector``, ...).
    :param device: ``CPU`` or ``GPU`` (GPU needs qiskit-aer-gpu and a GPU).
    :param seed_simulator: seed for reproducible sampling.
    :param max_parallel_threads: Aer's thread limit (``None``: all cores).
    :param noise_model: the noise model (``aer_noisy``), or ``None``.
    :param num_qubits: the noisy target's width (default: what Aer can simulate).
    """

    max_shots = MAX_SHOTS
    max_circuits: int | None = None
    executor: str | None = None
    secret_options: frozenset[str] = frozenset()

    def __init__(
        self,
        *,
        name: str,
        method: str = "automatic",
        device: str = "CPU",
        seed_simulator: int | None = None,
        max_parallel_threads: int | None = None,
        noise_model: NoiseModel | None = None,
        num_qubits: int | None = None,
    ) -> None:
        if device not in DEVICES:
            raise ConfigurationError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
        for option, value in (
            ("seed_simulator", seed_simulator),
            ("max_parallel_threads", max_parallel_threads),
            ("num_qubits", num_qubits),
        ):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ConfigurationError(f"{option} must be a non-negative integer, not {value!r}")
        options: dict[str, Any] = {"method": method, "device": device}
        if seed_simulator is not None:
            options["seed_simulator"] = seed_simulator
        if max_parallel_threads is not None:
            options["max_parallel_threads"] = max_parallel_threads
        if noise_model is not None:
            options["noise_model"] = noise_model
        try:
            simulator = AerSimulator(**options)
        except Exception as exc:
            raise ConfigurationError(f"invalid options for Aer backend {name!r}: {exc}") from exc
        if device == "GPU" and "GPU" not in simulator.available_devices():
            raise BackendError(
                "Aer device 'GPU' is not available here: install qiskit-aer-gpu on a machine "
                "with an NVIDIA GPU, or use device='CPU'"
            )
        if method not in simulator.available_methods():
            raise ConfigurationError(
                f"unknown Aer method {method!r}; available: {', '.join(simulator.available_methods())}"
            )
        self.name = name
        self.simulator = simulator
        self.noise_model = noise_model
        self.seed_simulator = seed_simulator
        self.target = self._make_target(simulator, noise_model, num_qubits)

    @staticmethod
    def _make_target(
        simulator: AerSimulator, noise_model: NoiseModel | None, num_qubits: int | None
    ) -> Target:
        if noise_model is None:
            return simulator.target
        width = num_qubits if num_qubits is not None else simulator.target.num_qubits
        target = Target.from_configuration(basis_gates=list(noise_model.basis_gates), num_qubits=width)
        for instruction, name in ((Measure(), "measure"), (Reset(), "reset")):
            if name not in target.operation_names:
                target.add_instruction(instruction, name=name)
        return target

    def run_circuits(
        self, circuits: Sequence[QuantumCircuit], shots: int, run_options: Mapping[str, Any]
    ) -> Result:
        """Simulate ``circuits`` with ``shots`` each; return Aer's result."""
        return self.simulator.run(list(circuits), shots=shots, **run_options).result()

    def provenance(self) -> dict[str, Any]:
        """Return the simulator, its version, the seed and the noise fingerprint."""
        from qdispatch_aer.noise import fingerprint

        return {
            "simulator": "aer_simulator",
            "simulator_version": qiskit_aer.__version__,
            "seed": self.seed_simulator,
            "noise_fingerprint": fingerprint(self.noise_model) if self.noise_model is not None else None,
        }
