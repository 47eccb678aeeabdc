"""A throw-away qdispatch plugin for the reliability tests: an Aer device that misbehaves on request.

It is installed for a test through a hand-made ``.dist-info`` on ``sys.path``
and ``PYTHONPATH`` (so worker processes find it too). Each circuit's metadata
says what to do when it runs, before it is simulated:

* ``pidfile``: write this process's id to that path;
* ``runlog``: append the circuit's name to that file;
* ``sleep_while_exists``: wait (at most 120 s) while that path exists;
* ``exit``: end the process at once with ``os._exit(code)``;
* ``raise``: raise ``RuntimeError(message)``.

The ``token`` option is marked secret, as a remote service's access token is.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qdispatch import hookimpl

log = logging.getLogger("qdispatch_faulty")


class FaultyDevice:
    """Runs circuits on Aer after doing what each circuit's metadata asks."""

    name = "faulty"
    max_shots = 100_000
    max_circuits = None
    executor = None
    secret_options = frozenset({"token"})

    def __init__(self, token: str | None = None) -> None:
        from qiskit_aer import AerSimulator

        self.simulator = AerSimulator(method="statevector")
        self.target = self.simulator.target
        self.has_token = token is not None
        log.info("faulty device ready (token given: %s)", self.has_token)

    def run_circuits(self, circuits: Sequence[Any], shots: int, run_options: Mapping[str, Any]) -> Any:
        """Act on each circuit's metadata, then simulate all of them."""
        for circuit in circuits:
            meta = circuit.metadata or {}
            if "pidfile" in meta:
                temporary = Path(f"{meta['pidfile']}.tmp")
                temporary.write_text(str(os.getpid()))
                temporary.replace(meta["pidfile"])
            if "runlog" in meta:
                with open(meta["runlog"], "a", encoding="utf-8") as runlog:
                    runlog.write(f"{circuit.name}\n")
            if "sleep_while_exists" in meta:
                deadline = time.monotonic() + 120
                while Path(meta["sleep_while_exists"]).exists() and time.monotonic() < deadline:
                    time.sleep(0.02)
            if "exit" in meta:
                os._exit(int(meta["exit"]))
            if "raise" in meta:
                raise RuntimeError(str(meta["raise"]))
        log.info("running %d circuits", len(circuits))
        return self.simulator.run(list(circuits), shots=shots, **run_options).result()

    def provenance(self) -> dict[str, Any]:
        """Return the simulator and its version."""
        import qiskit_aer

        return {"simulator": "aer_simulator", "simulator_version": qiskit_aer.__version__}


@hookimpl
def register_backends(register: Any) -> None:
    """Register the ``faulty`` backend."""
    register("faulty", FaultyDevice)
