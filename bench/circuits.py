"""The circuits the benchmarks run: seeded random circuits, transpiled once."""

from __future__ import annotations

from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit.random import random_circuit
from qiskit.transpiler import Target
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager


def small_circuits(count: int, target: Target, *, seed: int = 1234) -> list[QuantumCircuit]:
    """Return ``count`` seeded ``random_circuit(5, 10, measure=True)``, transpiled for ``target``.

    One pass manager is built and reused for every circuit (building it per
    circuit is what makes a naive ``transpile`` call slow).
    """
    pm = generate_preset_pass_manager(optimization_level=1, target=target, seed_transpiler=seed)
    raw = [random_circuit(5, 10, measure=True, seed=seed + i) for i in range(count)]
    out: Any = pm.run(raw)
    return list(out)


def heavy_circuit(num_qubits: int, depth: int, *, seed: int, target: Target) -> QuantumCircuit:
    """Return one CPU-heavy seeded random circuit (statevector work grows as 2**num_qubits)."""
    pm = generate_preset_pass_manager(optimization_level=0, target=target, seed_transpiler=seed)
    circuit = random_circuit(num_qubits, depth, max_operands=2, measure=True, seed=seed)
    out: Any = pm.run(circuit)
    return out  # type: ignore[no-any-return]
