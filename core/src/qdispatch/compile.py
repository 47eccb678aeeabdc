"""Transpiling for a backend, with one pass manager per backend, reused.

qdispatch never transpiles behind the user's back: ``backend.run`` takes
circuits as given. This helper is for the command line and for users who want
it; building a pass manager costs far more than running it, so it is built
once per backend and optimisation level.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from qiskit import QuantumCircuit
from qiskit.transpiler import PassManager
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager

from qdispatch.errors import InvalidInputError

_cache: dict[tuple[int, int], tuple[Any, PassManager]] = {}
_lock = threading.Lock()


def pass_manager_for(backend: Any, optimization_level: int = 1) -> PassManager:
    """Return the (cached) preset pass manager for ``backend``."""
    key = (id(backend), optimization_level)
    with _lock:
        cached = _cache.get(key)
        if cached is None or cached[0] is not backend:
            cached = (
                backend,
                generate_preset_pass_manager(optimization_level=optimization_level, backend=backend),
            )
            _cache[key] = cached
        return cached[1]


def transpile_for(
    backend: Any, circuits: QuantumCircuit | Sequence[QuantumCircuit], optimization_level: int = 1
) -> list[QuantumCircuit]:
    """Transpile ``circuits`` for ``backend`` with its reused pass manager.

    Qiskit's transpiler can panic (``pyo3_runtime.PanicException``, a
    ``BaseException``) on some circuits; that becomes an :class:`InvalidInputError`.
    """
    batch = [circuits] if isinstance(circuits, QuantumCircuit) else list(circuits)
    manager = pass_manager_for(backend, optimization_level)
    try:
        result = manager.run(batch)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # includes pyo3's PanicException
        raise InvalidInputError(f"cannot transpile for backend {backend.name!r}: {exc}") from exc
    return list(result) if isinstance(result, list) else [result]
