"""A batch of circuits that encodes itself to QPY once and reuses the bytes."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from qiskit import QuantumCircuit, qpy


class CircuitBatch(Sequence[QuantumCircuit]):
    """An immutable sequence of circuits with a cached QPY encoding.

    Encoding circuits dominates the cost of shipping a job to another process
    and of persisting it, so the QPY bytes are computed at most once and shared
    by both. A batch pickles as QPY, never as pickled circuit objects.
    """

    __slots__ = ("_circuits", "_lock", "_qpy", "_qpy_base64")

    def __init__(self, circuits: Sequence[QuantumCircuit], qpy_bytes: bytes | None = None) -> None:
        self._circuits = tuple(circuits)
        self._qpy = qpy_bytes
        self._qpy_base64: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_qpy(cls, data: bytes) -> CircuitBatch:
        """Decode a batch from QPY bytes (keeping the bytes for reuse)."""
        circuits = qpy.load(io.BytesIO(data))
        return cls([c for c in circuits if isinstance(c, QuantumCircuit)], qpy_bytes=data)

    def qpy(self) -> bytes:
        """Return the batch encoded as QPY, encoding on first call only."""
        with self._lock:
            if self._qpy is None:
                buffer = io.BytesIO()
                qpy.dump(list(self._circuits), buffer)
                self._qpy = buffer.getvalue()
            return self._qpy

    def qpy_base64(self) -> str:
        """Return the QPY bytes as base64 text (how records carry them), encoding on first call only."""
        if self._qpy_base64 is None:
            self._qpy_base64 = base64.b64encode(self.qpy()).decode("ascii")
        return self._qpy_base64

    def slice(self, start: int, stop: int) -> CircuitBatch:
        """Return the circuits ``[start:stop]`` as a new batch (sharing the cache if whole)."""
        if start == 0 and stop >= len(self._circuits):
            return self
        return CircuitBatch(self._circuits[start:stop])

    def __getitem__(self, index: Any) -> Any:
        return self._circuits[index]

    def __len__(self) -> int:
        return len(self._circuits)

    def __iter__(self) -> Iterator[QuantumCircuit]:
        return iter(self._circuits)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CircuitBatch):
            return NotImplemented
        return self._circuits == other._circuits

    def __hash__(self) -> int:
        return hash(len(self._circuits))

    def __repr__(self) -> str:
        return f"CircuitBatch({len(self._circuits)} circuits)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (CircuitBatch.from_qpy, (self.qpy(),))
