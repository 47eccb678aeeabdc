"""Turning the outcomes of a job's tasks into one Qiskit ``Result`` or one error."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import CancelledError, Future
from typing import Any

from qiskit.result import Result

from qdispatch.errors import QDispatchError, TaskCancelledError


def failure_message(result: Result) -> str | None:
    """Return why a simulator's ``Result`` failed, or ``None`` if it succeeded.

    qiskit-aer reports a failed simulation as a finished job whose result has
    ``success == False``; the reasons are in the result's and experiments' status.
    """
    if result.success and all(getattr(exp, "success", True) for exp in result.results):
        return None
    reasons = [str(result.status)] if getattr(result, "status", None) else []
    for index, exp in enumerate(result.results):
        if not getattr(exp, "success", True):
            reasons.append(f"circuit {index}: {getattr(exp, 'status', 'failed')}")
    return "; ".join(reasons) or "the simulator reported failure without a message"


def future_outcome(future: Future[Result]) -> tuple[str, Any]:
    """Classify a finished task future as ``("done", Result)``, ``("error", message)`` or ``("cancelled", None)``."""
    try:
        exc = future.exception()
    except CancelledError:
        return "cancelled", None
    if isinstance(exc, TaskCancelledError):
        return "cancelled", None
    if exc is not None:
        return "error", str(exc) if isinstance(exc, QDispatchError) else f"{type(exc).__name__}: {exc}"
    result = future.result()
    if not isinstance(result, Result):
        return "error", f"the backend returned a {type(result).__name__}, not a qiskit.result.Result"
    message = failure_message(result)
    if message is not None:
        return "error", message
    return "done", result


def merge_results(parts: Sequence[Result], job_id: str) -> Result:
    """Join the results of a job's tasks, in circuit order, into one ``Result``."""
    first = parts[0]
    experiments = [exp for part in parts for exp in part.results]
    return Result(
        backend_name=first.backend_name,
        backend_version=first.backend_version,
        job_id=job_id,
        success=all(part.success for part in parts),
        results=experiments,
        date=getattr(first, "date", None),
        status=getattr(first, "status", None),
        header=getattr(first, "header", None),
    )
