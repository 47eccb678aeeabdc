"""Checking a backend against the contract: its device's attributes, provenance, a run, persist/restore."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from typing import Any

from qdispatch.capabilities import SecretOptions, capabilities_of, pinned_executor
from qdispatch.contract.probe import SHOTS, _counts_fit, _provider, probe_circuits
from qdispatch.contract.report import ContractReport, Failure, _Checks, create_checked
from qdispatch.errors import QDispatchError
from qdispatch.plugins import PluginManager, get_plugin_manager

BACKEND_CHECKS = ("create", "attributes", "provenance", "run", "persist/restore round trip")
"""The backend checks, in the order they run."""


PROVENANCE_KEYS = frozenset({"simulator", "simulator_version", "seed", "noise_fingerprint"})
"""The keys ``Device.provenance()`` must return."""


def check_backend(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    timeout: float = 60.0,
    plugin_manager: PluginManager | None = None,
) -> ContractReport:
    """Check the backend ``name``'s device against the contract; return what passed and failed.

    Checks: ``create`` (the factory builds a :class:`qdispatch.Device`),
    ``attributes`` (a ``Target``, sane limits, a registered executor),
    ``provenance`` (the four keys, JSON-safe), ``run`` (circuits with distinct
    known outcomes, in one task and one per task, come back matched to their circuits)
    and ``persist/restore round trip``.

    :param name: the registered backend name.
    :param options: options for its factory (default: none).
    :param timeout: seconds the job may take.
    :param plugin_manager: where to look ``name`` up (default: the shared one).
    """
    from qdispatch.protocols import Device

    pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
    pm.registration("backend", name)
    opts = dict(options or {})
    checks = _Checks()
    box: dict[str, Any] = {}

    def create() -> str:
        device = box["device"] = create_checked(pm, "backend", name, opts, Device)
        offered = ", ".join(capabilities_of(device, "backend")) or "none"
        return f"factory returned {type(device).__name__}; optional capabilities: {offered}"

    def attributes() -> str:
        from qiskit.transpiler import Target

        device = box["device"]
        target: Target = device.target
        problems = []
        if device.name != name:
            problems.append(f"name is {device.name!r}, but it was registered as {name!r}")
        if not isinstance(target, Target) or not target.num_qubits:
            problems.append("target is not a qiskit Target with qubits")
        if (
            isinstance(device.max_shots, bool)
            or not isinstance(device.max_shots, int)
            or device.max_shots < 1
        ):
            problems.append(f"max_shots is {device.max_shots!r}, not a positive integer")
        limit = device.max_circuits
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            problems.append(f"max_circuits is {limit!r}, not None or a positive integer")
        pinned = pinned_executor(device)
        if pinned is not None and pinned not in pm.names("executor"):
            problems.append(f"executor {pinned!r} is not a registered executor")
        secrets = device.secret_options if isinstance(device, SecretOptions) else frozenset()
        if not isinstance(secrets, frozenset) or not all(isinstance(s, str) for s in secrets):
            problems.append("secret_options is not a frozenset of option names")
        if problems:
            raise Failure("; ".join(problems))
        return (
            f"{target.num_qubits} qubits, max_shots={device.max_shots}, max_circuits={limit}, "
            f"executor={pinned or 'the provider default'}"
        )

    def provenance() -> str:
        info = box["device"].provenance()
        if not isinstance(info, dict) or set(info) != PROVENANCE_KEYS:
            keys = sorted(info) if isinstance(info, dict) else type(info).__name__
            raise Failure(f"provenance() gave {keys}, expected the keys {sorted(PROVENANCE_KEYS)}")
        json.dumps(info)
        return f"simulator={info['simulator']!r}, version={info['simulator_version']!r}"

    def run_and_round_trip(round_trip: bool) -> str:
        from qiskit.providers import JobStatus

        from qdispatch.compile import transpile_for
        from qdispatch.job import Job

        device = box["device"]
        width = 2 if (device.target.num_qubits or 1) >= 2 else 1
        circuits = probe_circuits(0, 2**width, width=width, prefix="contract")
        with tempfile.TemporaryDirectory(prefix="qdispatch-contract-", ignore_cleanup_errors=True) as work:
            kwargs = {"store": "file", "store_options": {"path": work}}
            with _provider(pm, **kwargs) as provider:
                backend = provider.get_backend(name, **opts)
                shots = min(SHOTS, device.max_shots)
                transpiled = transpile_for(backend, circuits)
                one_task = backend.run(transpiled, shots=shots, max_circuits_per_task=len(circuits))
                chunked = backend.run(transpiled, shots=shots, max_circuits_per_task=1)
                for label, job in (("in one task", one_task), ("one circuit per task", chunked)):
                    try:
                        result = job.result(timeout)
                    except QDispatchError as exc:
                        raise Failure(f"{len(circuits)} circuits {label}: {exc}") from None
                    _counts_fit(result, 0, len(circuits), shots, exact=False, width=width)
                if not round_trip:
                    return (
                        f"{len(circuits)} circuits with distinct outcomes came back matched, in one task "
                        f"and one per task, on executor {one_task.executor_name!r}"
                    )
                counts = one_task.result().get_counts()
                one_task.persist()
            with _provider(pm, **kwargs) as provider:
                restored = Job.restore(one_task.job_id(), provider=provider, backend_options=opts)
                if restored.resubmitted or restored.status() is not JobStatus.DONE:
                    raise Failure("the finished job did not come back DONE without running again")
                if restored.result().get_counts() != counts:
                    raise Failure("the restored job's counts differ from the original's")
        return "persisted to a file store and restored with the same counts"

    checks.run_in_order(
        "backend",
        [
            ("create", create),
            ("attributes", attributes),
            ("provenance", provenance),
            ("run", lambda: run_and_round_trip(False)),
            ("persist/restore round trip", lambda: run_and_round_trip(True)),
        ],
    )
    return ContractReport("backend", name, tuple(checks.items))
