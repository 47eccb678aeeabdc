"""AQT's target: native R, RZ and RXX gates with all-to-all connectivity, and its limits."""

from __future__ import annotations

from qiskit.circuit import Parameter
from qiskit.circuit.library import Measure, RGate, RXXGate, RZGate
from qiskit.transpiler import Target

MAX_SHOTS = 2000
"""The most shots (``repetitions``) AQT accepts per circuit."""

MAX_CIRCUITS = 50
"""The most circuits AQT accepts in one submit request."""

MAX_OPERATIONS = 2000
"""The most operations (gates plus the final measurement) AQT accepts in one circuit."""

MAX_QUBITS = 31
"""The widest register AQT's API accepts in one circuit."""

OFFLINE_QUBITS = 20
"""The width of AQT's offline simulators."""


def aqt_target(num_qubits: int) -> Target:
    """Return the target of an AQT resource with ``num_qubits`` ions.

    Every gate acts on every qubit (pair), so ``transpile(circuit, backend)``
    needs no routing; it only rewrites gates into R, RZ and RXX.
    """
    target = Target(description="AQT trapped-ion resource", num_qubits=num_qubits)
    target.add_instruction(RZGate(Parameter("lambda")))
    target.add_instruction(RGate(Parameter("theta"), Parameter("phi")))
    target.add_instruction(RXXGate(Parameter("theta")))
    target.add_instruction(Measure())
    return target
