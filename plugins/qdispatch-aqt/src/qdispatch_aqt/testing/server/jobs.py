"""The local server's job queue: jobs wait a configurable delay, then run on Aer circuit by circuit."""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import attrs

from qdispatch_aqt.convert import aqt_to_circuit

if TYPE_CHECKING:
    from aqt_connector.models.circuits import QuantumCircuit as AQTCircuit

    from qdispatch_aqt.testing.server.faults import Faults

FINAL = frozenset({"finished", "error", "cancelled"})
"""The statuses a job never leaves."""


@attrs.frozen
class Resource:
    """A resource the server offers: an Aer simulator with or without AQT's noise."""

    id: str
    name: str
    qubits: int = 20
    noisy: bool = False


@attrs.define(eq=False)
class ServerJob:
    """One submitted job and its state, as ``GET /v1/result`` reports it."""

    job_id: uuid.UUID
    workspace: str
    resource: Resource
    label: str | None
    circuits: list[AQTCircuit]
    number: int
    not_before: float
    status: str = "queued"
    finished_count: int = 0
    result: dict[int, list[list[int]]] | None = None
    message: str | None = None
    finished_at: float | None = None
    """``time.monotonic()`` when the job reached a final status."""


class JobQueue:
    """Holds submitted jobs and runs them on worker threads, oldest first.

    :param faults: decides which jobs fail.
    :param workers: jobs run at the same time.
    :param queue_delay: seconds a job stays queued at least.
    :param queue_jitter: a random extra queue delay, uniform in ``[0, queue_jitter]``.
    :param circuit_time: extra seconds each circuit takes, so progress can be watched.
    :param seed: base seed of the simulations, for reproducible counts.
    """

    def __init__(
        self,
        faults: Faults,
        *,
        workers: int = 1,
        queue_delay: float = 0.0,
        queue_jitter: float = 0.0,
        circuit_time: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.faults = faults
        self.queue_delay = queue_delay
        self.queue_jitter = queue_jitter
        self.circuit_time = circuit_time
        self.seed = seed
        self.jobs: dict[uuid.UUID, ServerJob] = {}
        self._rng = random.Random(seed)
        self._cond = threading.Condition()
        self._held = False
        self._stopped = False
        self._numbers = 0
        self._threads = [
            threading.Thread(target=self._work, name=f"aqt-server-job-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def add(
        self, workspace: str, resource: Resource, label: str | None, circuits: list[AQTCircuit]
    ) -> ServerJob:
        """Queue a job and return it."""
        with self._cond:
            self._numbers += 1
            delay = self.queue_delay + (self._rng.uniform(0, self.queue_jitter) if self.queue_jitter else 0.0)
            job = ServerJob(
                job_id=uuid.uuid4(),
                workspace=workspace,
                resource=resource,
                label=label,
                circuits=circuits,
                number=self._numbers,
                not_before=time.monotonic() + delay,
            )
            self.jobs[job.job_id] = job
            self._cond.notify_all()
            return job

    def cancel(self, job: ServerJob) -> bool:
        """Cancel ``job`` unless it already ended; return whether it was cancelled."""
        with self._cond:
            if job.status in FINAL:
                return False
            job.status = "cancelled"
            job.finished_at = time.monotonic()
            return True

    def hold(self) -> None:
        """Start no job until :meth:`release` (jobs stay queued)."""
        with self._cond:
            self._held = True

    def release(self) -> None:
        """Let held jobs run."""
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop the workers (the job running now finishes its current circuit)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    def _next(self) -> ServerJob | None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                queued = [j for j in self.jobs.values() if j.status == "queued"]
                due = min(queued, key=lambda j: (j.not_before, j.number), default=None)
                if due is not None and not self._held and due.not_before <= now:
                    due.status = "ongoing"
                    return due
                timeout = None if due is None or self._held else due.not_before - now
                self._cond.wait(timeout)
            return None

    def _work(self) -> None:
        while (job := self._next()) is not None:
            try:
                self._run(job)
            except Exception as exc:  # a bug in the server must not hang the client
                self._end(job, "error", message=f"server error: {type(exc).__name__}: {exc}")

    def _end(self, job: ServerJob, status: str, **fields: Any) -> None:
        with self._cond:
            if job.status in FINAL:
                return
            for name, value in fields.items():
                setattr(job, name, value)
            job.status = status
            job.finished_at = time.monotonic()

    def _run(self, job: ServerJob) -> None:
        from qiskit_aer import AerSimulator

        from qdispatch_aqt.offline import aqt_noise_model

        if self.faults.job_fails():
            self._end(job, "error", message=self.faults.fail_message)
            return
        simulator = AerSimulator(
            method="statevector", noise_model=aqt_noise_model() if job.resource.noisy else None
        )
        samples: dict[int, list[list[int]]] = {}
        for index, model in enumerate(job.circuits):
            if job.status != "ongoing" or self._stopped:
                return
            circuit = aqt_to_circuit(model, name=f"circuit-{index}")
            options: dict[str, Any] = {"shots": model.repetitions, "memory": True}
            if self.seed is not None:
                options["seed_simulator"] = self.seed + 1000 * job.number + index
            memory = simulator.run(circuit, **options).result().get_memory(0)
            samples[index] = [[int(bit) for bit in reversed(outcome)] for outcome in memory]
            if self.circuit_time:
                time.sleep(self.circuit_time)
            with self._cond:
                job.finished_count = index + 1
        if self.faults.reshape is not None:
            samples = self.faults.reshape(samples)
        self._end(job, "finished", result=samples)
