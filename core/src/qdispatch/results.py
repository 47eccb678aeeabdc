"""Turning the outcomes of a job's tasks into one Qiskit ``Result`` or one error."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import CancelledError, Future
from typing import Any

from qiskit.result import Result

from qdispatch.errors import QDispatchError, ResultMismatchError, TaskCancelledError


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


def experiment_name(experiment: Any) -> str | None:
    """Return the circuit name a result experiment carries in its header, or ``None``."""
    header = getattr(experiment, "header", None)
    name = header.get("name") if isinstance(header, dict) else getattr(header, "name", None)
    return name if isinstance(name, str) else None


def check_result(result: Result, names: Sequence[str], device: str, first: int = 0) -> None:
    """Raise :class:`ResultMismatchError` unless ``result`` has one experiment per circuit, in order.

    Each experiment is matched to its circuit by the name in its header (which
    every Qiskit result carries), not by position alone: a device that drops,
    duplicates or reorders circuits is caught. Circuits that share a name can
    only be told apart by position; give them distinct names to have them
    checked too.

    :param names: the names of the circuits sent, in order.
    :param device: the backend name, for the message.
    :param first: the job-wide index of the first circuit, for the message.
    """
    got = [experiment_name(exp) for exp in result.results]
    if len(got) != len(names):
        raise ResultMismatchError(
            f"backend {device!r} returned {len(got)} result(s) for the {len(names)} circuit(s) "
            f"{first}..{first + len(names) - 1} it was sent"
        )
    for offset, (want, have) in enumerate(zip(names, got, strict=True)):
        if have != want:
            where = f"circuit {first + offset} ({want!r})"
            found = "no circuit name" if have is None else f"the result of {have!r}"
            raise ResultMismatchError(
                f"backend {device!r} returned {found} in the place of {where}: results missing, "
                "duplicated or out of order"
            )


def future_outcome(
    future: Future[Result], names: Sequence[str] | None = None, device: str = "", first: int = 0
) -> tuple[str, Any]:
    """Classify a finished future: ``("done", Result)``, ``("error", message)`` or ``("cancelled", None)``.

    With ``names``, a result that does not match those circuits (see :func:`check_result`) is an error.
    """
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
    if names is not None:
        try:
            check_result(result, names, device, first)
        except ResultMismatchError as mismatch:
            return "error", str(mismatch)
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
