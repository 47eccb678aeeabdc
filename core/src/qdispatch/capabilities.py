"""Optional capabilities of plugin objects: typed protocols, looked up in one place.

A device, executor or store must offer what :mod:`qdispatch.protocols`
requires. Beyond that it may offer any of the capabilities below; the core
asks for them only through the functions of this module, and
``qdispatch check-plugin`` reports which ones a plugin offers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.result import Result

    from qdispatch.task import Task


@runtime_checkable
class CancellableExecutor(Protocol):
    """An executor that can stop a task that is already running.

    ``cancel(future)`` returns True once nothing more of the task will run; the
    future must then end with :class:`qdispatch.errors.TaskCancelledError`.
    """

    def cancel(self, future: Future[Result]) -> bool:
        """Stop the task behind ``future``; return whether it will run no further."""
        ...


@runtime_checkable
class ResumableExecutor(Protocol):
    """An executor that hands tasks to a remote service and can pick them up in a later process."""

    def resume(self, task: Task, state: Mapping[str, Any]) -> Future[Result]:
        """Return a future for ``task``, which an earlier process submitted and described by ``state``."""
        ...


@runtime_checkable
class SizedExecutor(Protocol):
    """An executor that runs at most ``max_workers`` tasks at once."""

    max_workers: int


@runtime_checkable
class CircuitChecker(Protocol):
    """A device that checks circuits and run options itself, before anything is submitted."""

    def check_circuits(
        self, circuits: Sequence[QuantumCircuit], shots: int, run_options: Mapping[str, Any]
    ) -> None:
        """Raise :class:`qdispatch.InvalidInputError` for what this device cannot run."""
        ...


@runtime_checkable
class PinnedExecutor(Protocol):
    """A device whose jobs must run on one executor (a remote service's own), named by ``executor``."""

    executor: str | None


@runtime_checkable
class SecretOptions(Protocol):
    """A device some of whose options are secrets (tokens), never written to a record."""

    secret_options: frozenset[str]


@runtime_checkable
class EndpointOptions(Protocol):
    """A device that sends credentials to an endpoint named by some of its options (``url``).

    When a job is rebuilt from a stored record, these options must equal the
    ones configured now: a record never redirects the user's credentials.
    """

    endpoint_options: frozenset[str]


CAPABILITIES: dict[str, tuple[type, ...]] = {
    "executor": (CancellableExecutor, ResumableExecutor, SizedExecutor),
    "backend": (CircuitChecker, PinnedExecutor, SecretOptions, EndpointOptions),
    "store": (),
}
"""The capabilities each kind of plugin object may offer, as ``check-plugin`` reports them
(a store's compare-and-set ``save(record, expected_status=...)`` is reported as ``GuardedSave``)."""
"""The capabilities each kind of plugin object may offer, as ``check-plugin`` reports them."""


def offers(obj: object, capability: Any) -> bool:
    """Whether ``obj`` offers ``capability`` (one of the protocols above).

    The instance is asked, not its class: plugins often set attributes such as
    ``executor`` in ``__init__``.
    """
    return isinstance(obj, capability)


def capabilities_of(obj: object, kind: str) -> list[str]:
    """Return the names of the capabilities ``obj`` (a ``kind`` plugin object) offers."""
    names = [cap.__name__ for cap in CAPABILITIES.get(kind, ()) if offers(obj, cap)]
    if kind == "store" and guarded_save(obj) is not None:
        names.append("GuardedSave")
    return names


def cancellable(executor: object) -> CancellableExecutor | None:
    """Return ``executor`` if it can stop a running task, else ``None``."""
    return executor if isinstance(executor, CancellableExecutor) else None


def resumable(executor: object) -> ResumableExecutor | None:
    """Return ``executor`` if it can resume a remote task in a later process, else ``None``."""
    return executor if isinstance(executor, ResumableExecutor) else None


def worker_count(executor: object) -> int | None:
    """Return how many tasks ``executor`` runs at once, if it says (a positive int), else ``None``."""
    if not isinstance(executor, SizedExecutor):
        return None
    workers = executor.max_workers
    return workers if isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1 else None


def circuit_checker(device: object) -> CircuitChecker | None:
    """Return ``device`` if it checks circuits itself before submission, else ``None``."""
    return device if isinstance(device, CircuitChecker) else None


def pinned_executor(device: object) -> str | None:
    """Return the executor ``device`` must run on, or ``None`` for the provider's."""
    return device.executor if isinstance(device, PinnedExecutor) else None


def secret_options(device: object) -> frozenset[str]:
    """Return the names of ``device``'s options that are never written to a record."""
    return frozenset(device.secret_options) if isinstance(device, SecretOptions) else frozenset()


def endpoint_options(device: object) -> frozenset[str]:
    """Return the names of ``device``'s options that say where its credentials go (a class works too)."""
    return frozenset(device.endpoint_options) if isinstance(device, EndpointOptions) else frozenset()


def guarded_save(store: object) -> Callable[..., str] | None:
    """Return ``store.save`` if it takes ``expected_status`` (a compare-and-set save), else ``None``.

    ``save(record, expected_status=S)`` writes only if the stored job is still
    in status ``S``, else raises :class:`qdispatch.JobStateError`.
    """
    save = getattr(store, "save", None)
    if save is None:
        return None
    try:
        parameters = inspect.signature(save).parameters
    except (TypeError, ValueError):
        return None
    return save if "expected_status" in parameters else None  # type: ignore[no-any-return]
