"""Write and read jobs in a shared sqlite store from a separate process.

    python sqlite_writer.py DB TEMPLATE PREFIX COUNT SEED

Reads a job record (JSON) from TEMPLATE, opens the sqlite store at DB, prints
``ready`` and waits for a line on stdin; then saves COUNT copies of the record
as jobs ``<PREFIX>-<i>``, listing and loading between saves. Every exception
is caught and reported; prints a JSON summary as its last line.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import attrs

from qdispatch.serialization import decode_record
from qdispatch.stores.sqlite import SqliteStore


def main() -> None:
    db, template_path, prefix, count, seed = sys.argv[1:6]
    text = Path(template_path).read_text(encoding="utf-8")
    template = decode_record(text, json.loads(text)["job_id"])
    store = SqliteStore(db)
    rng = random.Random(int(seed))
    print("ready", flush=True)
    sys.stdin.readline()
    saved: list[str] = []
    reads = 0
    errors: list[str] = []
    for i in range(int(count)):
        job_id = f"{prefix}-{i:05d}"
        try:
            store.save(attrs.evolve(template, job_id=job_id, tags=(prefix,)))
            saved.append(job_id)
            if i % 5 == 0:
                store.list(limit=20)
                probe = rng.choice(saved)
                if store.load(probe).job_id != probe:
                    errors.append(f"load({probe!r}) returned another job")
                reads += 2
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    store.close()
    print(json.dumps({"saved": len(saved), "reads": reads, "errors": errors}))


if __name__ == "__main__":
    main()
