"""The typed errors qdispatch raises.

Every error a user can cause derives from :class:`QDispatchError`, so a
program (and the ``qdispatch`` command) can catch one class and print a
message a person can act on.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import CancelledError

from qiskit.exceptions import QiskitError


class QDispatchError(QiskitError):
    """Base class of every error qdispatch raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(QDispatchError):
    """The configuration file, an environment variable or an option is invalid."""


class PluginNotFoundError(QDispatchError):
    """No plugin registered a backend, executor or store under the asked name."""

    def __init__(self, kind: str, name: str, available: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.available = sorted(available)
        listed = ", ".join(self.available) or "none installed"
        super().__init__(f"unknown {kind} {name!r}; available: {listed}")


class InvalidInputError(QDispatchError, ValueError):
    """A circuit, shot count, option or job id handed to qdispatch is invalid."""


class InvalidJobIdError(InvalidInputError):
    """A job id is empty, too long, or contains characters a store cannot hold."""


class InvalidOptionError(ConfigurationError, InvalidInputError):
    """An option value (a count, a timeout, a limit) is of the wrong type or out of range.

    Raised by the one option validator, :mod:`qdispatch.validation`, whoever
    the option belongs to: an executor, a store, a backend or a run.
    """


class CredentialEndpointError(ConfigurationError):
    """A stored record names an endpoint other than the one the user's credentials are configured for."""


class ResultMismatchError(QDispatchError):
    """A device returned results that do not match the circuits it was sent (missing, extra or reordered)."""


class JobError(QDispatchError):
    """Base class of errors about one job; carries its id."""

    def __init__(self, job_id: str, message: str) -> None:
        self.job_id = job_id
        super().__init__(message)


class JobNotFoundError(JobError, KeyError):
    """No job with this id is in the store (or on the remote service)."""

    def __init__(self, job_id: str, where: str = "the store") -> None:
        super().__init__(job_id, f"job {job_id!r} not found in {where}")


class JobCorruptError(JobError):
    """A stored record cannot be read: truncated, malformed or not a qdispatch record."""


class JobIncompatibleError(JobError):
    """A stored record was written by a newer, incompatible qdispatch."""


class JobStateError(JobError):
    """The job is not in a state that allows the asked operation."""


class JobFailedError(JobError):
    """The job ended in ERROR; ``str(error)`` is the simulator's or executor's message."""


class JobCancelledError(JobError, CancelledError):
    """The job was cancelled, so it has no result."""


class TaskCancelledError(QDispatchError):
    """Raised into a task's future by an executor that stopped the task while it ran."""


class WorkerDiedError(QDispatchError):
    """The process running a task ended before returning a result."""


class ExecutorError(QDispatchError):
    """An executor cannot accept work (it is shut down, or its service is unreachable)."""


class StoreError(QDispatchError):
    """A store cannot be opened, read or written."""


class BackendError(QDispatchError):
    """A backend cannot be created or cannot run the given circuits."""


class JobExistsError(JobError):
    """A store already holds a different job (created at another time) under this id."""


class StoreConfigurationError(StoreError, ConfigurationError):
    """A store option (its path, its timeout) is unusable; caught as either parent."""


class InsecureStoreError(StoreError):
    """A store directory can be written by other users and does not belong to this user."""
