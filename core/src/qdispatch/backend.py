"""The Qiskit backend a provider hands out: a device bound to an executor and a store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import qiskit
from qiskit.providers import BackendV2, Options
from qiskit.transpiler import Target

from qdispatch._version import qdispatch_version
from qdispatch.capabilities import pinned_executor, secret_options

if TYPE_CHECKING:
    from qdispatch.job import Job
    from qdispatch.protocols import Device
    from qdispatch.provider import Provider

DEFAULT_SHOTS = 1024


class Backend(BackendV2):
    """A ``qiskit.providers.BackendV2`` whose ``run`` returns a :class:`qdispatch.Job`.

    ``transpile(circuits, backend)`` and the ``BackendSamplerV2`` /
    ``BackendEstimatorV2`` primitives work with it, since it has a real target.
    """

    def __init__(self, provider: Provider, device: Device, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(
            provider=None,
            name=name,
            description=f"qdispatch backend {name!r}",
            backend_version=qdispatch_version(),
        )
        self._qd_provider = provider
        self._device = device
        self._device_options = dict(options)

    @classmethod
    def _default_options(cls) -> Options:
        return Options(shots=DEFAULT_SHOTS)

    @property
    def target(self) -> Target:
        """The device's target."""
        return self._device.target

    @property
    def max_circuits(self) -> int | None:
        """The most circuits one task may carry, or ``None`` for no limit."""
        return self._device.max_circuits

    @property
    def device(self) -> Device:
        """The plugin object that runs circuits for this backend."""
        return self._device

    @property
    def device_options(self) -> dict[str, Any]:
        """The options the device was built with (including secrets; never persisted)."""
        return dict(self._device_options)

    @property
    def public_options(self) -> dict[str, Any]:
        """The device options without the ones the device marks secret."""
        secret = secret_options(self._device)
        return {k: v for k, v in self._device_options.items() if k not in secret}

    @property
    def executor_name(self) -> str:
        """The executor this backend's jobs run on."""
        return pinned_executor(self._device) or self._qd_provider.executor_name

    def provenance(self, run_options: Mapping[str, Any]) -> dict[str, Any]:
        """Return the provenance fields for a job run with ``run_options``."""
        info = dict(self._device.provenance())
        if run_options.get("seed_simulator") is not None:
            info["seed"] = run_options["seed_simulator"]
        return {
            "qdispatch_version": qdispatch_version(),
            "qiskit_version": qiskit.__version__,
            **info,
        }

    def run(self, run_input: Any, **options: Any) -> Job:
        """Validate and submit circuits; return the (submitted) job. The provider does the work.

        :param run_input: a ``QuantumCircuit`` or a list of them, already
            transpiled for this backend.
        :param options: ``shots``, ``tags`` (a list of strings),
            ``max_circuits_per_task``, ``job_id``, and run options passed on to
            the device (``seed_simulator``, ``memory``, ...).
        """
        return self._qd_provider.submit(self, run_input, **options)
