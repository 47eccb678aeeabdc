"""Noise models for ``aer_noisy``: from a few parameters, or from a NoiseModel dictionary."""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from pathlib import Path
from typing import Any

import attrs
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error, thermal_relaxation_error

from qdispatch.errors import ConfigurationError
from qdispatch.serialization import jsonable
from qdispatch.validation import positive_number

BASIS_1Q = ("sx", "x")
"""One-qubit gates that carry noise; ``rz`` is virtual and noiseless."""
BASIS_2Q = ("cx",)
"""Two-qubit gates that carry noise."""
BASIS_GATES = ("rz", *BASIS_1Q, *BASIS_2Q)
"""The gates of the ``aer_noisy`` target."""


def _probability(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= 1
        or math.isnan(value)
    ):
        raise ConfigurationError(f"noise option {name!r} must be a probability in [0, 1], not {value!r}")
    return float(value)


@attrs.frozen(kw_only=True)
class NoiseParameters:
    """The parameters of the default noise model, with their defaults.

    ``t1`` and ``t2`` (seconds) add thermal relaxation over the gate times
    ``gate_time_1q`` and ``gate_time_2q`` when both are given.
    """

    depolarizing_1q: float = 0.001
    depolarizing_2q: float = 0.01
    readout_error: float = 0.01
    t1: float | None = None
    t2: float | None = None
    gate_time_1q: float = 50e-9
    gate_time_2q: float = 300e-9

    @classmethod
    def from_options(cls, **options: float | None) -> NoiseParameters:
        """Build from options where ``None`` means the default; validate every value."""
        given = {k: v for k, v in options.items() if v is not None}
        for name in ("depolarizing_1q", "depolarizing_2q", "readout_error"):
            if name in given:
                given[name] = _probability(name, given[name])
        t1, t2 = given.get("t1"), given.get("t2")
        if (t1 is None) != (t2 is None):
            raise ConfigurationError("give both t1 and t2 (seconds) for thermal relaxation, or neither")
        if t1 is not None and t2 is not None:
            t1 = given["t1"] = positive_number("t1", t1, owner="backend 'aer_noisy'")
            t2 = given["t2"] = positive_number("t2", t2, owner="backend 'aer_noisy'")
            if t2 > 2 * t1:
                raise ConfigurationError(f"t2 ({t2}) cannot exceed 2 * t1 ({2 * t1})")
        return cls(**given)

    def build(self) -> NoiseModel:
        """Return the Aer noise model these parameters describe."""
        model = NoiseModel(basis_gates=list(BASIS_GATES))
        error_1q = depolarizing_error(self.depolarizing_1q, 1)
        error_2q = depolarizing_error(self.depolarizing_2q, 2)
        if self.t1 is not None and self.t2 is not None:
            error_1q = error_1q.compose(thermal_relaxation_error(self.t1, self.t2, self.gate_time_1q))
            relax = thermal_relaxation_error(self.t1, self.t2, self.gate_time_2q)
            error_2q = error_2q.compose(relax.expand(relax))
        model.add_all_qubit_quantum_error(error_1q, list(BASIS_1Q))
        model.add_all_qubit_quantum_error(error_2q, list(BASIS_2Q))
        p = self.readout_error
        model.add_all_qubit_readout_error(ReadoutError([[1 - p, p], [p, 1 - p]]))
        return model


def load_noise_model(source: dict[str, Any] | str | Path) -> NoiseModel:
    """Return a ``NoiseModel`` from its dictionary, or from a JSON file holding one."""
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            source = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"cannot read noise model file {path}: {exc.strerror}") from exc
        except ValueError as exc:
            raise ConfigurationError(f"noise model file {path} is not valid JSON: {exc}") from exc
    if not isinstance(source, dict):
        raise ConfigurationError("noise_model must be a NoiseModel dictionary or the path of a JSON file")
    try:
        with warnings.catch_warnings():
            # Aer deprecated from_dict without a replacement that reads its own to_dict output.
            warnings.simplefilter("ignore", DeprecationWarning)
            return NoiseModel.from_dict(source)
    except Exception as exc:
        raise ConfigurationError(f"noise_model is not a valid NoiseModel dictionary: {exc}") from exc


def fingerprint(model: NoiseModel) -> str:
    """Return a stable SHA-256 fingerprint of ``model``'s contents."""
    data = jsonable(model.to_dict(serializable=True))
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
