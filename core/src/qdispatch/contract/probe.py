"""The probe the checks run: circuits with known outcomes, a task that can wait for a signal file."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qdispatch.contract.report import Failure
from qdispatch.hookspecs import hookimpl
from qdispatch.plugins import PluginManager
from qdispatch.task import Task

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.result import Result

    from qdispatch.plugins import Register
    from qdispatch.provider import Provider


PROBE_BACKEND = "contract_probe"
"""The backend name of probe tasks and of the in-process probe device."""


SHOTS = 64
"""Shots per probe circuit."""


SUBMIT_GRACE = 10.0
"""Seconds ``submit`` may take (at most half the checks' timeout) before it counts as
blocking until the task ran."""


def probe_circuits(first: int, count: int, width: int = 2, prefix: str = "probe") -> list[QuantumCircuit]:
    """Return ``count`` circuits on ``width`` qubits; circuit ``k`` measures :func:`expected_bitstring`.

    Each is named ``{prefix}-{k}``, so results can be matched to circuits by name.
    """
    from qiskit import QuantumCircuit

    circuits = []
    for k in range(first, first + count):
        outcome = k % 2**width
        qc = QuantumCircuit(width, name=f"{prefix}-{k}")
        for qubit in range(width):
            if outcome >> qubit & 1:
                qc.x(qubit)
        qc.measure_all()
        circuits.append(qc)
    return circuits


def expected_bitstring(k: int, width: int = 2) -> str:
    """Return what probe circuit ``k`` on ``width`` qubits measures."""
    return format(k % 2**width, f"0{width}b")


def _simulate(circuits: Sequence[QuantumCircuit], shots: int) -> Result:
    from qiskit.providers.basic_provider import BasicSimulator

    return BasicSimulator().run(list(circuits), shots=shots, seed_simulator=1).result()


class ProbeTask(Task):
    """A :class:`qdispatch.Task` that runs without any backend plugin.

    Its ``run_options`` steer it: ``probe_marker`` (a path created when it
    starts), ``probe_release`` (a path it waits for before finishing, at most
    ``probe_timeout`` seconds) and ``probe_fail`` (a message it raises). It
    pickles like any task, so it runs in any process on this machine.
    """

    __slots__ = ()

    def run(self) -> Result:
        """Mark the start, wait for the release, fail if asked, else simulate the circuits."""
        self.report_started()
        options = self.run_options
        if options.get("probe_marker"):
            Path(options["probe_marker"]).touch()
        release = options.get("probe_release")
        if release:
            deadline = time.monotonic() + float(options.get("probe_timeout", 60.0))
            while not Path(release).exists():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"probe task {self.job_id} was never released")
                time.sleep(0.01)
        if options.get("probe_fail"):
            raise RuntimeError(options["probe_fail"])
        return _simulate(self.circuits, self.shots)


class ProbeDevice:
    """A device on Qiskit's ``BasicSimulator``, registered only on the checks' own plugin manager."""

    name = PROBE_BACKEND
    max_shots = 10_000
    max_circuits: int | None = None
    executor: str | None = None
    secret_options: frozenset[str] = frozenset()

    def __init__(self) -> None:
        from qiskit.transpiler import Target

        self.target: Target = Target.from_configuration(
            basis_gates=["x", "sx", "rz", "cx", "measure"], num_qubits=4
        )

    def run_circuits(
        self, circuits: Sequence[QuantumCircuit], shots: int, run_options: Mapping[str, Any]
    ) -> Result:
        """Simulate ``circuits``."""
        return _simulate(circuits, shots)

    def provenance(self) -> dict[str, Any]:
        """Return the simulator and its version."""
        import qiskit

        return {
            "simulator": "basic_simulator",
            "simulator_version": qiskit.__version__,
            "seed": 1,
            "noise_fingerprint": None,
        }


class _ProbePlugin:
    @hookimpl
    def register_backends(self, register: Register) -> None:
        register(PROBE_BACKEND, ProbeDevice)


def _with_probe(pm: PluginManager) -> PluginManager:
    """Return a new plugin manager with ``pm``'s plugins and the probe device."""
    copy = PluginManager()
    for name, plugin in pm.list_name_plugin():
        if plugin is not None:
            copy.register(plugin, name=name)
    copy.register(_ProbePlugin(), name="qdispatch-contract-probe")
    return copy


@contextmanager
def _provider(pm: PluginManager, **kwargs: Any) -> Iterator[Provider]:
    """A provider on ``pm`` that ignores the user's configuration file and environment."""
    from qdispatch.config import Settings
    from qdispatch.provider import Provider

    with Provider(settings=Settings(), plugin_manager=pm, **kwargs) as provider:
        yield provider


def _counts_fit(result: Result, first: int, count: int, shots: int, exact: bool, width: int = 2) -> None:
    """Raise :class:`Failure` unless ``result`` holds the probe circuits' outcomes."""
    from qiskit.result import Result

    if not isinstance(result, Result):
        raise Failure(f"the result is a {type(result).__name__}, not a qiskit.result.Result")
    if not result.success:
        raise Failure(f"the result reports failure: {getattr(result, 'status', '')}")
    if len(result.results) != count:
        raise Failure(f"the result holds {len(result.results)} experiments, expected {count}")
    for j in range(count):
        counts = result.get_counts(j)
        want = expected_bitstring(first + j, width)
        if sum(counts.values()) != shots:
            raise Failure(f"circuit {j}: {sum(counts.values())} shots counted, expected {shots}")
        if (counts != {want: shots}) if exact else (max(counts, key=counts.get) != want):
            raise Failure(f"circuit {j}: counts {counts}, expected mostly {want!r}")


def _wait_for(paths: Sequence[Path], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# -- executors --------------------------------------------------------------------
