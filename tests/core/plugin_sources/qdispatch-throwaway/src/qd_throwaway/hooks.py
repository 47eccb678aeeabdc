"""Registers the ``throwaway`` backend and the ``inline`` executor."""

import os
from concurrent.futures import Future

from qiskit.transpiler import Target
from qiskit_aer import AerSimulator

from qdispatch import hookimpl


class ThrowawayDevice:
    """Two qubits, gates x/sx/rz/cx, noiseless; ``exit_code=N`` makes the process exit."""

    name = "throwaway"
    max_shots = 1000
    max_circuits = None
    executor = None
    secret_options = frozenset({"password"})

    def __init__(self, password=None):
        self.target = Target.from_configuration(["x", "sx", "rz", "cx", "measure"], num_qubits=2)
        self._sim = AerSimulator()

    def run_circuits(self, circuits, shots, run_options):
        options = dict(run_options)
        code = options.pop("exit_code", None)
        if code is not None:
            os._exit(code)
        return self._sim.run(list(circuits), shots=shots, **options).result()

    def provenance(self):
        return {"simulator": "throwaway"}


class InlineExecutor:
    """Runs each task at once in the caller's thread."""

    def __init__(self, label="inline"):
        self.label = label
        self.ran = 0

    def submit(self, task):
        future = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(task.run())
        except Exception as exc:
            future.set_exception(exc)
        self.ran += 1
        return future

    def shutdown(self, wait=True):
        pass


@hookimpl
def register_backends(register):
    register("throwaway", ThrowawayDevice)


@hookimpl
def register_executors(register):
    register("inline", InlineExecutor)
