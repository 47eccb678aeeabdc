"""Test helpers: real Dask clusters made of ``dask scheduler`` and ``dask worker`` processes.

``DaskCluster`` starts the Dask command-line programs on 127.0.0.1 (free
ports, one thread per worker, no nanny, so killing a worker process kills the
worker) and stops them again; tests use it to run jobs through the executor's
``address`` path and to break the cluster on purpose.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from distributed import Client
from qiskit import QuantumCircuit

DASK = shutil.which("dask", path=str(Path(sys.executable).parent)) or "dask"
START_TIMEOUT = 60.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def heavy_circuit(qubits: int = 18, layers: int = 40) -> QuantumCircuit:
    """A dense circuit that keeps one Aer thread busy for a second or two."""
    qc = QuantumCircuit(qubits)
    for layer in range(layers):
        for q in range(qubits):
            qc.rx(0.1 * (q + 1) + layer, q)
        for q in range(0, qubits - 1, 2):
            qc.cx(q, q + 1)
        for q in range(1, qubits - 1, 2):
            qc.cx(q, q + 1)
    qc.measure_all()
    return qc


def wait_until(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class DaskCluster:
    """A scheduler and named workers, each a real ``dask`` CLI process.

    :param workdir: where the processes run and write their logs.
    :param worker_names: the workers to start (none: a scheduler alone).
    :param dask_config: extra ``DASK_*`` environment variables for every process.
    """

    def __init__(
        self,
        workdir: Path,
        worker_names: tuple[str, ...] = ("w0", "w1"),
        dask_config: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.worker_names = worker_names
        self.env = {**self._environment(workdir), **(dask_config or {})}
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._monitor: Client | None = None

    @staticmethod
    def _environment(workdir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QDISPATCH_", "DASK_"))}
        config = workdir / "worker-config.toml"  # never the user's; empty
        config.parent.mkdir(parents=True, exist_ok=True)
        config.touch()
        env["QDISPATCH_CONFIG"] = str(config)
        env["XDG_CONFIG_HOME"] = str(workdir / "config")
        env["XDG_DATA_HOME"] = str(workdir / "data")
        # One retry when a worker dies mid-task; a second death fails the task (KilledWorker).
        env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = "1"
        return env

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        with open(self.workdir / log, "ab") as out:
            return subprocess.Popen(
                [DASK, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.workdir,
                start_new_session=True,
            )

    def start(self) -> DaskCluster:
        """Start the scheduler and every worker; return once all workers are connected."""
        self.scheduler = self._spawn(
            ["scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"], "scheduler.log"
        )
        for name in self.worker_names:
            self.start_worker(name)
        self.wait_for_workers()
        return self

    def start_worker(self, name: str) -> None:
        """Start the worker ``name`` (one thread, no nanny, so killing it kills the worker)."""
        self.workers[name] = self._spawn(
            [
                "worker",
                self.address,
                "--name",
                name,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--memory-limit",
                "0",
                "--local-directory",
                str(self.workdir / name),
            ],
            f"{name}.log",
        )

    @property
    def monitor(self) -> Client:
        """A client of the test itself, to look at the scheduler."""
        if self._monitor is None:
            self._monitor = Client(self.address, timeout=START_TIMEOUT, set_as_default=False)
        return self._monitor

    def addresses(self) -> dict[str, str]:
        """Return ``{worker name: address}`` of the connected workers."""
        workers = self.monitor.scheduler_info(n_workers=-1)["workers"]
        return {str(info["name"]): address for address, info in workers.items()}

    def wait_for_workers(self) -> None:
        """Restart dead workers and wait until every named worker is connected."""
        for name in self.worker_names:
            process = self.workers.get(name)
            if process is None or process.poll() is not None:
                self.start_worker(name)
        wait_until(lambda: set(self.addresses()) == set(self.worker_names), START_TIMEOUT, "Dask workers")

    def processing_workers(self, job_id: str) -> list[str]:
        """Return the names of the workers the scheduler gave a task of ``job_id`` to."""
        names = {a: n for n, a in self.addresses().items()}
        return sorted(
            names[address]
            for address, keys in self.monitor.processing().items()
            if address in names and any(job_id in str(key) for key in keys)
        )

    def worker_running(self, job_id: str, timeout: float = 30.0) -> str:
        """Wait until a worker processes a task of ``job_id``; return its name."""
        wait_until(lambda: self.processing_workers(job_id), timeout, f"a worker processing job {job_id}")
        return self.processing_workers(job_id)[0]

    def scheduler_keys(self, job_id: str) -> list[str]:
        """Return the keys of ``job_id``'s tasks that the scheduler still knows."""
        keys = self.monitor.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
        return [k for k in keys if job_id in k]

    def computed_keys(self, job_id: str) -> list[str]:
        """Return the keys of ``job_id``'s tasks a worker computed, from the scheduler's transition log."""

        def computed(dask_scheduler: Any) -> list[str]:
            return sorted(
                {
                    str(entry[0])
                    for entry in dask_scheduler.transition_log
                    if job_id in str(entry[0]) and entry[2] == "memory"
                }
            )

        keys: list[str] = self.monitor.run_on_scheduler(computed)
        return keys

    def kill_worker(self, name: str) -> None:
        """Kill the worker process ``name`` (SIGKILL) and reap it."""
        process = self.workers[name]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def kill_scheduler(self) -> None:
        """Kill the scheduler process (SIGKILL); its workers then stop by themselves."""
        assert self.scheduler is not None
        if self._monitor is not None:  # while it can still close cleanly
            self._monitor.close(timeout=5)
            self._monitor = None
        self.scheduler.send_signal(signal.SIGKILL)
        self.scheduler.wait(timeout=10)

    @staticmethod
    def _terminate(processes: list[subprocess.Popen[bytes]]) -> None:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 5  # a worker busy simulating may not stop on SIGTERM soon
        for process in processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def stop(self) -> None:
        """Stop every process of the cluster and check that none is left."""
        if self._monitor is not None:
            self._monitor.close(timeout=5)
            self._monitor = None
        workers = list(self.workers.values())
        self._terminate(workers)  # workers first, while the scheduler can still say goodbye to them
        self._terminate([self.scheduler] if self.scheduler is not None else [])
        processes = [*workers, *([self.scheduler] if self.scheduler is not None else [])]
        alive = [p.pid for p in processes if p.poll() is None]
        if alive:
            raise RuntimeError(f"Dask processes left running: {alive}")
