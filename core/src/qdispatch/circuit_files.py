"""Reading OpenQASM 2 and 3 files into circuits, with errors a person can act on."""

from __future__ import annotations

from pathlib import Path

from qiskit import QuantumCircuit, qasm2, qasm3

from qdispatch.errors import InvalidInputError


def load_qasm(path: str | Path) -> QuantumCircuit:
    """Read an OpenQASM 2 or 3 file (told apart by its ``OPENQASM`` line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"no such circuit file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read circuit file {path}: {exc}") from exc
    header = next(
        (line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("//")), ""
    )
    try:
        if header.startswith("OPENQASM 2"):
            return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        if header.startswith("OPENQASM 3"):
            return qasm3.loads(text)
    except Exception as exc:
        raise InvalidInputError(f"{path} is not a valid OpenQASM program: {exc}") from exc
    raise InvalidInputError(f"{path} does not start with 'OPENQASM 2.0;' or 'OPENQASM 3.0;'")
