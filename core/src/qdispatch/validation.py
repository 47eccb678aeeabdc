"""Checks on what a user hands to ``backend.run``, before anything is submitted."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from qiskit import QuantumCircuit
from qiskit.transpiler import Target

from qdispatch.errors import InvalidInputError, InvalidOptionError

ALWAYS_SUPPORTED = frozenset({"barrier", "measure"})
"""Instructions every backend accepts whether or not its target lists them."""


def validate_circuits(run_input: Any, target: Target, backend_name: str) -> list[QuantumCircuit]:
    """Return ``run_input`` as a non-empty list of circuits that fit ``target``.

    :raises InvalidInputError: for anything else, saying which circuit is wrong and why.
    """
    if isinstance(run_input, QuantumCircuit):
        circuits = [run_input]
    elif isinstance(run_input, Sequence) and not isinstance(run_input, str | bytes):
        circuits = list(run_input)
    else:
        raise InvalidInputError(
            f"backend {backend_name!r} runs a QuantumCircuit or a list of them, "
            f"not {type(run_input).__name__}"
        )
    if not circuits:
        raise InvalidInputError(f"no circuits given to backend {backend_name!r}")
    supported = target.operation_names
    width = target.num_qubits
    for index, circuit in enumerate(circuits):
        if not isinstance(circuit, QuantumCircuit):
            raise InvalidInputError(
                f"item {index} given to backend {backend_name!r} is a "
                f"{type(circuit).__name__}, not a QuantumCircuit"
            )
        if width is not None and circuit.num_qubits > width:
            raise InvalidInputError(
                f"{_label(index, circuit)} has {circuit.num_qubits} qubits; backend {backend_name!r} "
                f"has {width}"
            )
        if circuit.num_parameters:
            names = ", ".join(sorted(p.name for p in circuit.parameters))
            raise InvalidInputError(
                f"{_label(index, circuit)} has unbound parameters ({names}); bind them with "
                "circuit.assign_parameters(...) first"
            )
        # count_ops() reads the names in Rust; iterating circuit.data builds a Python
        # object per instruction (measured in docs/performance.md).
        # Look up the few names the circuit uses; a set difference would walk
        # every operation of the target, for every circuit.
        unsupported = [n for n in circuit.count_ops() if n not in supported and n not in ALWAYS_SUPPORTED]
        if unsupported:
            raise InvalidInputError(
                f"{_label(index, circuit)} uses {', '.join(sorted(unsupported))}, not supported by backend "
                f"{backend_name!r}; run transpile(circuits, backend) first"
            )
    return circuits


def _label(index: int, circuit: QuantumCircuit) -> str:
    return f"circuit {index} ({circuit.name!r})"


def validate_shots(shots: Any, max_shots: int, backend_name: str) -> int:
    """Return ``shots`` as an ``int`` if it is an integer from 1 to ``max_shots``, else raise.

    NumPy integers are accepted; booleans, floats and strings are not.
    """
    if type(shots) is not int and (isinstance(shots, bool) or not isinstance(shots, numbers.Integral)):
        raise InvalidInputError(f"shots must be a whole number, not {shots!r}")
    count = int(shots)
    if count < 1:
        raise InvalidInputError(f"shots must be at least 1, not {count}")
    if count > max_shots:
        raise InvalidInputError(
            f"shots={count} is above the maximum of backend {backend_name!r} ({max_shots})"
        )
    return count


def validate_tags(tags: Any) -> tuple[str, ...]:
    """Return ``tags`` as a tuple of non-empty strings, else raise."""
    if tags is None:
        return ()
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise InvalidInputError(f"tags must be a list of strings, not {tags!r}")
    for tag in tags:
        if not isinstance(tag, str) or not tag or len(tag) > 200:
            raise InvalidInputError(f"each tag must be a string of 1 to 200 characters, not {tag!r}")
    return tuple(tags)


def _refuse(name: str, value: Any, what: str, owner: str | None) -> InvalidOptionError:
    where = f" of {owner}" if owner else ""
    return InvalidOptionError(f"option {name!r}{where} must be {what}, not {value!r}")


def positive_int(name: str, value: Any, *, owner: str | None = None, maximum: int | None = None) -> int:
    """Return ``value`` if it is a whole number from 1 to ``maximum``; else raise :class:`InvalidOptionError`.

    This and :func:`positive_number` are the one check for numeric options, so
    every executor, store and backend refuses a bad value the same way.

    :param name: the option's name, for the message.
    :param owner: what the option belongs to (``"executor 'process'"``), for the message.
    :param maximum: the largest value accepted, if any.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise _refuse(name, value, "a positive whole number", owner)
    number = int(value)
    if maximum is not None and number > maximum:
        raise _refuse(name, value, f"at most {maximum}", owner)
    return number


def positive_number(name: str, value: Any, *, owner: str | None = None, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number above 0 (or ``allow_zero``); else raise.

    NaN and infinity are refused: a timeout of ``nan`` would otherwise wait forever.
    """
    what = "a finite number of at least 0" if allow_zero else "a finite number above 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _refuse(name, value, what, owner)
    number = float(value)
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise _refuse(name, value, what, owner)
    return number


def validate_run_options(options: Any) -> dict[str, Any]:
    """Return run options as a dict if every value is plain, storable data; else raise.

    A job's run options are kept in its record as JSON, so they must be
    ``None``, booleans, whole numbers, finite floats, strings, or lists and
    string-keyed dicts of those. Anything else (``nan``, an arbitrary object)
    is refused here, before the job runs, rather than when it is persisted.
    """
    for name, value in options.items():
        problem = _unstorable(value)
        if problem is not None:
            raise InvalidInputError(
                f"run option {name!r} is {problem}; run options must be plain values "
                "(numbers, strings, booleans, lists and dicts of them) so the job can be stored"
            )
    return dict(options)


def _unstorable(value: Any, depth: int = 0) -> str | None:
    if depth > 20:
        return "nested too deeply"
    if value is None or isinstance(value, bool | str):
        return None
    if isinstance(value, numbers.Integral):
        return None
    if isinstance(value, numbers.Real):
        return None if math.isfinite(float(value)) else f"{value!r}, not a finite number"
    if isinstance(value, list | tuple):
        for item in value:
            problem = _unstorable(item, depth + 1)
            if problem is not None:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"a dict with the key {key!r}, not a string"
            problem = _unstorable(item, depth + 1)
            if problem is not None:
                return problem
        return None
    return f"a {type(value).__name__} object"
