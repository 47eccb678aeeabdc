"""The errors the AQT plugin raises, each a :class:`qdispatch.errors.QDispatchError`.

Every message goes through :func:`qdispatch_aqt.redact.redact`, so no error
of the plugin carries a credential, whatever text (a server's answer) it quotes.
"""

from __future__ import annotations

from qdispatch.errors import BackendError, ExecutorError, JobNotFoundError, QDispatchError
from qdispatch_aqt.redact import redact


class AQTCredentialsError(QDispatchError, PermissionError):
    """No AQT credentials were found, they are malformed, or AQT rejected them (HTTP 401 or 403).

    The message says where the token came from and where to configure one;
    it never contains the token itself.
    """

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class AQTAPIError(ExecutorError):
    """AQT's API answered with an error that retrying will not fix, or the request was refused before sending.

    :param status_code: the HTTP status, or ``None`` when there was no answer.
    """

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(redact(message))
        self.status_code = status_code


class AQTTransientError(AQTAPIError):
    """A request failed in a way that may pass: no connection, a timeout, HTTP 429 or 5xx."""


class AQTSubmitUncertainError(AQTAPIError):
    """A submit was sent but its answer was lost, so AQT may or may not have the job.

    qdispatch never sends it again (that could run the circuits twice on paid
    hardware); look for the job's label in AQT's portal instead.
    """


class AQTJobNotFoundError(JobNotFoundError):
    """AQT does not know the remote job (wrong id, another account, or expired)."""

    def __init__(self, remote_job_id: str, url: str) -> None:
        super().__init__(remote_job_id, f"AQT at {url}")
        self.remote_job_id = remote_job_id


class AQTJobFailedError(QDispatchError):
    """AQT reported that the remote job ended in ``error``; the message is AQT's (credentials masked)."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class AQTConversionError(BackendError):
    """A circuit cannot be expressed in AQT's API, or AQT's answer does not fit the circuits sent."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))
