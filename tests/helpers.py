"""Circuits the tests share."""

from qiskit import QuantumCircuit


def seed_circuit() -> QuantumCircuit:
    """The seed example: one qubit, rx(3.14), measure_all (gives '1' nearly always)."""
    qc = QuantumCircuit(1)
    qc.rx(3.14, 0)
    qc.measure_all()
    return qc


def bell() -> QuantumCircuit:
    """A Bell pair, measured."""
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    return qc


def x_circuit(n: int, ones: int) -> QuantumCircuit:
    """``n`` qubits, X on the first ``ones`` of them, measured: a known bitstring."""
    qc = QuantumCircuit(n)
    for q in range(ones):
        qc.x(q)
    qc.measure_all()
    return qc
