"""Run one store action and print its outcome as JSON (run as another user, or under a file-size limit).

Usage: store_action.py KIND PATH ACTION JOB_ID [FSIZE_LIMIT]
ACTION is ``list``, ``load``, ``save`` (the stored record again) or ``grow`` (it with a 4 MB error message).
"""

from __future__ import annotations

import json
import resource
import sys
import warnings

import attrs

from qdispatch.stores.file import FileStore
from qdispatch.stores.sqlite import SqliteStore


def main() -> None:
    kind, path, action, job_id = sys.argv[1:5]
    if len(sys.argv) > 5:
        limit = int(sys.argv[5])
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    out: dict[str, object] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            store = FileStore(path) if kind == "file" else SqliteStore(path)
            if action == "list":
                out["listed"] = [s.job_id for s in store.list()]
            elif action == "load":
                out["loaded"] = store.load(job_id).job_id
            else:
                record = store.load(job_id)
                if action == "grow":
                    record = attrs.evolve(record, error_message="x" * 4_000_000)
                store.save(record)
                out["saved"] = True
        except Exception as exc:
            out["error"] = type(exc).__name__
            out["message"] = str(exc)
    out["warnings"] = [str(w.message) for w in caught]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
