"""The toy vendor device behind the ``example_vendor`` backend.

A device is what a backend plugin's factory returns: qdispatch wraps it in a
``qiskit.providers.BackendV2`` and calls :meth:`VendorDevice.run_circuits`
from a :class:`qdispatch.Task`, in whatever thread or process the executor
chose. This one pretends to be five qubits in a line with a native ``cz``,
and simulates that on qiskit-aer with a matching noise model. A vendor with
real hardware keeps the same shape and sends the circuits to the hardware in
``run_circuits`` instead.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import qiskit_aer
from qiskit.circuit import Parameter
from qiskit.circuit.library import CZGate, Measure, Reset, RZGate, SXGate, XGate
from qiskit.transpiler import InstructionProperties, Target
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

from qdispatch.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.result import Result

NUM_QUBITS = 5
"""The device's width."""

COUPLING = tuple((q, q + 1) for q in range(NUM_QUBITS - 1))
"""The linear chain 0-1-2-3-4: ``cz`` acts only on neighbours (either way round)."""

MAX_SHOTS = 100_000
"""The most shots the device takes per circuit."""

MAX_CIRCUITS = 50
"""The most circuits one task may carry; qdispatch splits larger jobs into tasks."""

GATE_TIME_1Q = 35e-9
GATE_TIME_2Q = 250e-9
READOUT_TIME = 1e-6


def _probability(instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or not 0 <= value <= 1
    ):
        raise ConfigurationError(f"{attribute.name} must be a probability between 0 and 1, not {value!r}")


@attrs.frozen(kw_only=True)
class NoiseParameters:
    """The device's error rates; every value is validated as a probability."""

    error_1q: float = attrs.field(default=0.001, validator=_probability)
    error_2q: float = attrs.field(default=0.01, validator=_probability)
    readout_error: float = attrs.field(default=0.02, validator=_probability)

    def noise_model(self) -> NoiseModel:
        """Return the Aer noise model: depolarizing ``sx``, ``x``, ``cz``; noisy readout; ``rz`` is exact."""
        model = NoiseModel(basis_gates=["rz", "sx", "x", "cz"])
        model.add_all_qubit_quantum_error(depolarizing_error(self.error_1q, 1), ["sx", "x"])
        model.add_all_qubit_quantum_error(depolarizing_error(self.error_2q, 2), ["cz"])
        p = self.readout_error
        model.add_all_qubit_readout_error(ReadoutError([[1 - p, p], [p, 1 - p]]))
        return model

    def fingerprint(self) -> str:
        """Return a stable SHA-256 of the parameters, recorded with every job."""
        text = json.dumps(attrs.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def make_target(noise: NoiseParameters) -> Target:
    """Return the device's target: its gates, which qubits they act on, their errors and durations.

    ``transpile(circuit, backend)`` reads the target to map a circuit onto the
    device, so what is here must be what :meth:`VendorDevice.run_circuits` accepts.
    """
    target = Target(description="example vendor device: 5 qubits in a line", num_qubits=NUM_QUBITS)
    single = {
        (q,): InstructionProperties(duration=GATE_TIME_1Q, error=noise.error_1q) for q in range(NUM_QUBITS)
    }
    target.add_instruction(
        RZGate(Parameter("theta")),
        {(q,): InstructionProperties(duration=0.0, error=0.0) for q in range(NUM_QUBITS)},
    )
    target.add_instruction(SXGate(), dict(single))
    target.add_instruction(XGate(), dict(single))
    pairs = [*COUPLING, *((b, a) for a, b in COUPLING)]
    target.add_instruction(
        CZGate(), {pair: InstructionProperties(duration=GATE_TIME_2Q, error=noise.error_2q) for pair in pairs}
    )
    readout = {
        (q,): InstructionProperties(duration=READOUT_TIME, error=noise.readout_error)
        for q in range(NUM_QUBITS)
    }
    target.add_instruction(Measure(), readout)
    target.add_instruction(Reset(), {(q,): None for q in range(NUM_QUBITS)})
    return target


class VendorDevice:
    """Five qubits in a line, simulated with noise on qiskit-aer.

    The class attributes below are what qdispatch reads from every device
    (the :class:`qdispatch.Device` protocol).

    :param name: the backend name it was registered under.
    :param noise: the error rates.
    :param seed_simulator: seed for reproducible sampling (a run option of the
        same name overrides it for one job).
    """

    max_shots = MAX_SHOTS
    max_circuits: int | None = MAX_CIRCUITS
    executor: str | None = "example_serial"
    """Jobs on this device always run on this executor, whatever the provider's is:
    like the real thing, the device takes one job at a time. Use ``None`` to run
    on the provider's executor instead."""
    secret_options: frozenset[str] = frozenset()
    """Option names never written to a job record: put an access token's name here."""

    def __init__(self, *, name: str, noise: NoiseParameters, seed_simulator: int | None = None) -> None:
        if seed_simulator is not None and (
            isinstance(seed_simulator, bool) or not isinstance(seed_simulator, int) or seed_simulator < 0
        ):
            raise ConfigurationError(f"seed_simulator must be a non-negative integer, not {seed_simulator!r}")
        self.name = name
        self.noise = noise
        self.seed_simulator = seed_simulator
        self.target = make_target(noise)
        self._simulator = AerSimulator(noise_model=noise.noise_model(), seed_simulator=seed_simulator)

    def check_circuits(
        self, circuits: Sequence[QuantumCircuit], shots: int, run_options: Mapping[str, Any]
    ) -> None:
        """Refuse, before anything is submitted, what this hardware cannot do.

        qdispatch has already checked the circuits' width and gate names
        against the target and calls this (optional) method next, from
        ``backend.run``: here, a ``cz`` between qubits that are not neighbours.
        """
        for index, circuit in enumerate(circuits):
            check_connectivity(circuit, index, self.name)

    def run_circuits(
        self, circuits: Sequence[QuantumCircuit], shots: int, run_options: Mapping[str, Any]
    ) -> Result:
        """Run ``circuits`` with ``shots`` each, here and now; return their ``Result``.

        The connectivity is checked again: a task can also arrive from a
        restored record, written before a change of the device.
        """
        self.check_circuits(circuits, shots, run_options)
        return self._simulator.run(list(circuits), shots=shots, **run_options).result()

    def provenance(self) -> dict[str, Any]:
        """Return what makes a run reproducible; qdispatch stores it with the job."""
        return {
            "simulator": "example_vendor on aer_simulator",
            "simulator_version": qiskit_aer.__version__,
            "seed": self.seed_simulator,
            "noise_fingerprint": self.noise.fingerprint(),
        }


def check_connectivity(circuit: QuantumCircuit, index: int, backend: str) -> None:
    """Raise :class:`qdispatch.InvalidInputError` if a two-qubit gate of ``circuit`` spans non-neighbours."""
    coupled = {frozenset(pair) for pair in COUPLING}
    for instruction in circuit.data:
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        if len(qubits) == 2 and instruction.operation.name != "barrier" and frozenset(qubits) not in coupled:
            raise InvalidInputError(
                f"circuit {index} ({circuit.name!r}) applies {instruction.operation.name} to qubits "
                f"{qubits[0]} and {qubits[1]}, which are not neighbours on {backend!r}; "
                "run transpile(circuits, backend) first"
            )
