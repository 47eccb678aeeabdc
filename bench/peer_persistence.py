"""The peer's half of the persistence benchmark; runs inside ``bench/.venv-peer``.

qiskit-aqt-provider is installed only in that virtual environment, never
beside qdispatch. This script imports nothing from qdispatch or ``bench``: it
reads one JSON command per line on stdin and answers one JSON line on stdout,
so the benchmark can interleave the peer's rounds with qdispatch's.

What it measures, with qiskit-aqt-provider's own API
(``qiskit_aqt_provider.persistence``):

- ``persist``: ``persist_job(JobSnapshot(...), store=FileJobStore(root))``,
  which is ``encode_job`` (JSON header + QPY) then ``FileJobStore.save``
  (temporary file, fsync, chmod, rename);
- ``store``: ``FileJobStore.save`` alone, of payloads encoded beforehand;
- ``restore``: ``restore_job(job_id, store=..., backend_kind=..., backend_name=...)``,
  timed one call at a time;
- ``list``: the peer has no listing; the cheapest equivalent reads every
  file and parses its JSON header (it keeps no status, so this is a lower
  bound on what a filtered listing would cost it).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any


def main() -> int:
    """Answer commands until ``quit`` or end of input."""
    from importlib.metadata import version

    import qiskit
    from qiskit import qpy
    from qiskit_aqt_provider.persistence import (
        FileJobStore,
        JobSnapshot,
        encode_job,
        persist_job,
        restore_job,
    )

    state: dict[str, Any] = {}

    def reply(data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "hello":
            reply(
                {
                    "qiskit": qiskit.__version__,
                    "qiskit-aqt-provider": version("qiskit-aqt-provider"),
                    "qpy_version": qpy.QPY_VERSION,
                    "python": sys.version.split()[0],
                }
            )
        elif op == "setup":
            with open(command["circuits"], "rb") as handle, warnings.catch_warnings():
                # written by the newer Qiskit beside qdispatch, in a QPY version this one reads
                warnings.simplefilter("ignore", UserWarning)
                pool = qpy.load(handle)
            per_job = command["circuits_per_job"]
            ids = command["job_ids"]
            state["ids"] = [str(uuid.UUID(job_id)) for job_id in ids]  # the peer's canonical form
            state["snapshots"] = [
                JobSnapshot(
                    job_id=uuid.UUID(job_id),
                    backend_kind="direct",
                    backend_name=command["backend"],
                    shots=command["shots"],
                    memory=False,
                    circuits=[pool[(per_job * i + k) % len(pool)] for k in range(per_job)],
                )
                for i, job_id in enumerate(ids)
            ]
            state["store"] = FileJobStore(root=Path(command["root"]))
            state["storage_store"] = FileJobStore(root=Path(command["storage_root"]))
            state["root"] = Path(command["root"])
            state["backend"] = command["backend"]
            reply({"ok": True, "jobs": len(ids)})
        elif op == "persist":
            snapshots = state["snapshots"][command["start"] : command["start"] + command["count"]]
            store = state["store"]
            start = time.perf_counter()
            for snapshot in snapshots:
                persist_job(snapshot, store=store)
            reply({"seconds": time.perf_counter() - start})
        elif op == "store":
            snapshots = state["snapshots"][command["start"] : command["start"] + command["count"]]
            payloads = [(str(s.job_id), encode_job(s)) for s in snapshots]  # untimed
            store = state["storage_store"]
            start = time.perf_counter()
            for job_id, payload in payloads:
                store.save(job_id, payload)
            reply({"seconds": time.perf_counter() - start})
        elif op == "restore":
            store = state["store"]
            latencies = []
            for index in command["indices"]:
                job_id = state["ids"][index]
                start = time.perf_counter()
                snapshot = restore_job(
                    job_id, store=store, backend_kind="direct", backend_name=state["backend"]
                )
                latencies.append(time.perf_counter() - start)
                assert len(snapshot.circuits) > 0
            reply({"latencies": latencies})
        elif op == "list":
            start = time.perf_counter()
            matches = 0
            for entry in os.scandir(state["root"]):
                if not entry.name.endswith(".aqt-job"):
                    continue
                with open(entry.path, "rb") as handle:
                    header = json.loads(handle.readline())
                if header.get("backend_name") == state["backend"]:
                    matches += 1
            reply({"seconds": time.perf_counter() - start, "matches": matches})
        elif op == "quit":
            reply({"ok": True})
            return 0
        else:
            reply({"error": f"unknown op {op!r}"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
