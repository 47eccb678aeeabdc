"""Qiskit circuits to AQT's API payload and back; AQT's per-shot bits to a Qiskit ``Result``.

AQT's operations take angles in units of pi: ``R`` with theta in [0, 1] and
phi in [0, 2], ``RZ`` with any phi, ``RXX`` with theta in [0, 0.5]. Angles a
transpiled circuit carries outside those ranges are wrapped by exact
identities (up to a global phase), adding at most a few single-qubit gates.
A circuit ends with one ``MEASURE`` of every qubit, so measurements must be
terminal; they are mapped back to the circuit's classical bits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from aqt_connector.models.arnica.request_bodies.jobs import SubmitJobRequest
from aqt_connector.models.circuits import QuantumCircuit as AQTCircuit
from pydantic import ValidationError
from qiskit import QuantumCircuit
from qiskit.result import Result

from qdispatch_aqt.errors import AQTConversionError
from qdispatch_aqt.target import MAX_OPERATIONS

Operation = dict[str, Any]
"""One operation of AQT's payload, as JSON: ``{"operation": "R", "qubit": 0, ...}``."""

_TWO_PI = 2 * math.pi
_EPS = 1e-12


def _clamp(value: float, low: float, high: float) -> float:
    """Clip rounding noise (a hair outside the range) back into ``[low, high]``."""
    return min(max(value, low), high)


def r_operation(qubit: int, theta: float, phi: float) -> list[Operation]:
    """Return ``R(theta, phi)`` as AQT operations, theta in [0, pi] and phi in [0, 2 pi).

    ``R(theta + 2 pi, phi) = -R(theta, phi)`` and ``R(-theta, phi) = R(theta, phi + pi)``.
    """
    theta = math.remainder(theta, _TWO_PI)
    if theta < 0:
        theta, phi = -theta, phi + math.pi
    phi = math.fmod(phi, _TWO_PI)
    if phi < 0:
        phi += _TWO_PI
    return [
        {
            "operation": "R",
            "qubit": qubit,
            "theta": _clamp(theta / math.pi, 0.0, 1.0),
            "phi": _clamp(phi / math.pi, 0.0, 2.0),
        }
    ]


def rz_operation(qubit: int, phi: float) -> list[Operation]:
    """Return ``RZ(phi)`` as an AQT operation, phi wrapped into [-pi, pi]."""
    return [{"operation": "RZ", "qubit": qubit, "phi": math.remainder(phi, _TWO_PI) / math.pi}]


def rxx_operation(first: int, second: int, theta: float) -> list[Operation]:
    """Return ``RXX(theta)`` as AQT operations with theta in [0, pi/2].

    ``RXX(theta) = (X x X) RXX(theta - pi)`` up to phase, and
    ``RXX(-theta) = (Z x I) RXX(theta) (Z x I)``; X is ``R(pi, 0)``, Z is ``RZ(pi)``.
    """
    ops: list[Operation] = []
    theta = math.remainder(theta, _TWO_PI)
    if theta > math.pi / 2 + _EPS:
        theta -= math.pi
        ops += r_operation(first, math.pi, 0.0) + r_operation(second, math.pi, 0.0)
    elif theta < -math.pi / 2 - _EPS:
        theta += math.pi
        ops += r_operation(first, math.pi, 0.0) + r_operation(second, math.pi, 0.0)
    flip = theta < 0
    if flip:
        ops += rz_operation(first, math.pi)
    ops.append(
        {"operation": "RXX", "qubits": [first, second], "theta": _clamp(abs(theta) / math.pi, 0.0, 0.5)}
    )
    if flip:
        ops += rz_operation(first, math.pi)
    return ops


def measurement_map(circuit: QuantumCircuit) -> dict[int, int]:
    """Return ``{clbit: qubit}`` for the circuit's (terminal) measurements."""
    mapping: dict[int, int] = {}
    for instruction in circuit.data:
        if instruction.operation.name == "measure":
            qubit = circuit.find_bit(instruction.qubits[0]).index
            mapping[circuit.find_bit(instruction.clbits[0]).index] = qubit
    return mapping


def circuit_operations(circuit: QuantumCircuit, index: int = 0) -> list[Operation]:
    """Return the AQT operations of ``circuit``, ending with ``MEASURE``.

    :raises AQTConversionError: for a gate AQT lacks, a gate after a
        measurement, or a circuit without measurements.
    """
    label = f"circuit {index} ({circuit.name!r})"
    ops: list[Operation] = []
    measured: set[int] = set()
    for instruction in circuit.data:
        operation = instruction.operation
        name = operation.name
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        if name == "barrier":
            continue
        if name == "measure":
            measured.add(qubits[0])
            continue
        late = measured.intersection(qubits)
        if late:
            raise AQTConversionError(
                f"{label} applies {name} to qubit {min(late)} after measuring it; AQT measures "
                "every qubit once, at the end of the circuit"
            )
        try:
            params = [float(p) for p in operation.params]
        except TypeError:
            raise AQTConversionError(f"{label} has unbound parameters in {name}") from None
        if name == "r":
            ops += r_operation(qubits[0], params[0], params[1])
        elif name == "rz":
            ops += rz_operation(qubits[0], params[0])
        elif name == "rxx":
            ops += rxx_operation(qubits[0], qubits[1], params[0])
        else:
            raise AQTConversionError(
                f"{label} uses {name}, which AQT cannot run (it runs r, rz, rxx and final "
                "measurements); run transpile(circuits, backend) first"
            )
    if not measured:
        raise AQTConversionError(f"{label} measures nothing; AQT needs measurements to return results")
    if len(ops) + 1 > MAX_OPERATIONS:
        raise AQTConversionError(
            f"{label} has {len(ops)} operations after conversion; AQT accepts at most "
            f"{MAX_OPERATIONS - 1} plus the final measurement"
        )
    ops.append({"operation": "MEASURE"})
    return ops


def job_request(circuits: Sequence[QuantumCircuit], shots: int, label: str | None = None) -> SubmitJobRequest:
    """Return the validated ``SubmitJobRequest`` that runs ``circuits`` with ``shots`` each.

    :raises AQTConversionError: when a circuit cannot be converted or the
        payload breaks a limit of AQT's models (the message names the circuit).
    """
    body = {
        "job_type": "quantum_circuit",
        "label": label,
        "payload": {
            "circuits": [
                {
                    "repetitions": shots,
                    "number_of_qubits": circuit.num_qubits,
                    "quantum_circuit": circuit_operations(circuit, index),
                }
                for index, circuit in enumerate(circuits)
            ]
        },
    }
    try:
        return SubmitJobRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise AQTConversionError(
            f"the job does not fit AQT's API ({exc.error_count()} problem(s)); first at {where}: "
            f"{first['msg']}"
        ) from exc


def aqt_to_circuit(model: AQTCircuit, name: str = "aqt") -> QuantumCircuit:
    """Return the Qiskit circuit an AQT payload circuit describes (qubit i measured to clbit i)."""
    n = model.number_of_qubits
    circuit = QuantumCircuit(n, n, name=name)
    for item in model.quantum_circuit.root:
        op = item.root
        if op.operation == "R":
            circuit.r(op.theta * math.pi, op.phi * math.pi, op.qubit)
        elif op.operation == "RZ":
            circuit.rz(op.phi * math.pi, op.qubit)
        elif op.operation == "RXX":
            circuit.rxx(op.theta * math.pi, op.qubits[0], op.qubits[1])
        else:
            circuit.measure(range(n), range(n))
    return circuit


def _header(circuit: QuantumCircuit) -> dict[str, Any]:
    return {
        "name": circuit.name,
        "creg_sizes": [[reg.name, reg.size] for reg in circuit.cregs],
        "qreg_sizes": [[reg.name, reg.size] for reg in circuit.qregs],
        "memory_slots": circuit.num_clbits,
        "n_qubits": circuit.num_qubits,
        "global_phase": float(circuit.global_phase),
        "metadata": dict(circuit.metadata or {}),
    }


def samples_to_experiment(
    circuit: QuantumCircuit, samples: Sequence[Sequence[int]], memory: bool
) -> dict[str, Any]:
    """Return one experiment of a ``Result`` dictionary from AQT's shots (bit lists, qubit 0 first)."""
    mapping = measurement_map(circuit)
    counts: dict[str, int] = {}
    outcomes: list[str] = []
    for shot in samples:
        value = 0
        for clbit, qubit in mapping.items():
            if shot[qubit]:
                value |= 1 << clbit
        key = hex(value)
        counts[key] = counts.get(key, 0) + 1
        if memory:
            outcomes.append(key)
    data: dict[str, Any] = {"counts": counts}
    if memory:
        data["memory"] = outcomes
    return {
        "shots": len(samples),
        "success": True,
        "status": "DONE",
        "meas_level": 2,
        "data": data,
        "header": _header(circuit),
    }


def make_result(
    circuits: Sequence[QuantumCircuit],
    samples: Mapping[int, Sequence[Sequence[int]]],
    *,
    backend_name: str,
    job_id: str,
    memory: bool = False,
    shots: int | None = None,
) -> Result:
    """Return the ``Result`` of ``circuits`` from AQT's ``{circuit index: shots}``.

    The answer must have the shape of the request: one entry per circuit sent,
    ``shots`` samples each (when given), and each sample one bit per qubit of
    its circuit (the payload measures every qubit).

    :raises AQTConversionError: naming what does not fit, if AQT's answer has another shape.
    """
    where = f"AQT's result for job {job_id}"
    experiments = []
    for index, circuit in enumerate(circuits):
        found = samples.get(index)
        if found is None:
            raise AQTConversionError(f"{where} has no samples for circuit {index}")
        if shots is not None and len(found) != shots:
            raise AQTConversionError(
                f"{where} has {len(found)} samples for circuit {index}; {shots} were requested"
            )
        width = circuit.num_qubits
        wrong = next((shot for shot in found if len(shot) != width), None)
        if wrong is not None:
            raise AQTConversionError(
                f"{where}, circuit {index}, has samples of {len(wrong)} bits; the circuit measures "
                f"{width} qubits, so each sample needs {width}"
            )
        experiments.append(samples_to_experiment(circuit, found, memory))
    if len(samples) != len(circuits):
        extra = sorted(set(samples) - set(range(len(circuits))))
        raise AQTConversionError(
            f"{where} has samples for {len(samples)} circuits; {len(circuits)} were sent "
            f"(unexpected circuit index {extra[0]})"
        )
    return Result.from_dict(
        {
            "backend_name": backend_name,
            "backend_version": "v1",
            "qobj_id": "",
            "job_id": job_id,
            "success": True,
            "status": "COMPLETED",
            "results": experiments,
        }
    )
