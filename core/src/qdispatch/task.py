"""The unit of work an executor runs: some circuits of one job on one backend."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from qdispatch.circuits import CircuitBatch

if TYPE_CHECKING:
    from qiskit.result import Result

    from qdispatch.protocols import Device

TaskListener = Callable[[str, Any], None]
"""Receives ``("started", None)``, ``("progress", finished_count)`` or ``("state", dict)``."""


@attrs.define(eq=False)
class Task:
    """Circuits of one job to run on one backend, picklable for other processes.

    ``run()`` executes in the current process: it builds the backend's device
    from its registered name and options (once per process) and returns a
    ``qiskit.result.Result``. Circuits travel as QPY when the task is pickled.

    Executors that run tasks in this process, or that watch them from here,
    call :meth:`report_started`, :meth:`report_progress` and
    :meth:`report_state`; the job handle hears of it. The listener is not
    pickled, so a task run elsewhere reports nothing by itself; nor is the
    ``device`` an in-process executor may reuse: another process builds its own.
    """

    job_id: str
    index: int
    circuits: CircuitBatch
    backend: str
    backend_options: dict[str, Any] = attrs.field(repr=False)  # may hold tokens
    shots: int
    run_options: dict[str, Any]
    start: int = 0
    listener: TaskListener | None = attrs.field(default=None, repr=False)
    device: Device | None = attrs.field(default=None, repr=False)

    def run(self) -> Result:
        """Run the circuits on the backend in this process and return the result."""
        self.report_started()
        return self.resolve_device().run_circuits(list(self.circuits), self.shots, self.run_options)

    def resolve_device(self) -> Device:
        """Return the device to run on: the one handed over in this process, else this process's own."""
        return self.device if self.device is not None else device_for(self.backend, self.backend_options)

    def report_started(self) -> None:
        """Tell the job that this task began running."""
        if self.listener is not None:
            self.listener("started", self.index)

    def report_progress(self, finished_count: int) -> None:
        """Tell the job how many circuits of this task have finished."""
        if self.listener is not None:
            self.listener("progress", (self.index, finished_count))

    def report_state(self, state: Mapping[str, Any]) -> None:
        """Record executor state (a remote job id) so the task can be resumed later."""
        if self.listener is not None:
            self.listener("state", (self.index, dict(state)))

    def __getstate__(self) -> dict[str, Any]:
        return {
            field.name: getattr(self, field.name)
            for field in attrs.fields(Task)
            if field.name not in ("listener", "device")
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        self.listener = None
        self.device = None


def device_for(backend: str, options: Mapping[str, Any]) -> Device:
    """Return this process's device for ``backend`` with ``options``, built once."""
    from qdispatch.plugins import get_plugin_manager

    device: Device = get_plugin_manager().device(backend, options)
    return device
