"""A small HTTP client for AQT's Arnica API v1, validating answers with ``aqt-connector``'s models.

Each method makes one logical call. Reads (``job_state``, ``workspaces``,
``resource``) raise :class:`AQTTransientError` for failures worth retrying;
``submit`` is different: once a submit may have reached AQT it is never sent
again, so a lost answer raises :class:`AQTSubmitUncertainError`, while a
request refused on this machine (a malformed token, a bad id) says it was not sent.

Every request is bounded: ``timeout`` is a deadline for the whole exchange
(connecting, sending, and reading the answer, however slowly it drips), and an
answer larger than :data:`MAX_RESPONSE_BYTES` is refused after reading that
much. Ids that go into a URL path are checked first, and every message is
masked by :func:`qdispatch_aqt.redact.redact`.
"""

from __future__ import annotations

import contextvars
import json
import random
import re
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import httpcore
import httpx
from aqt_connector.models.arnica.response_bodies.jobs import ResultResponse, SubmitJobResponse
from aqt_connector.models.arnica.response_bodies.resources import ResourceDetails
from aqt_connector.models.arnica.response_bodies.workspaces import Workspace
from pydantic import TypeAdapter, ValidationError

from qdispatch_aqt.credentials import HOW_TO_CONFIGURE, check_token
from qdispatch_aqt.errors import (
    AQTAPIError,
    AQTCredentialsError,
    AQTJobNotFoundError,
    AQTSubmitUncertainError,
    AQTTransientError,
)
from qdispatch_aqt.redact import redact

if TYPE_CHECKING:
    from aqt_connector.models.arnica.request_bodies.jobs import SubmitJobRequest

    from qdispatch_aqt.credentials import Credentials

T = TypeVar("T")

DEFAULT_URL = "https://arnica.aqt.eu/api"
"""AQT's Arnica API, used when no URL is configured."""

USER_AGENT = "qdispatch-aqt/0.1"

MAX_RESPONSE_BYTES = 32 * 1024 * 1024
"""The largest answer read, 32 MiB (AQT's largest, 50 circuits x 2,000 shots x 31 bits, is smaller)."""

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport failures that happen before a request leaves this machine."""

_REFUSED_HERE = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)
"""Requests httpx refuses to send at all; retrying would refuse them again."""

_RETRY_SUBMIT_STATUS = frozenset({429, 503})
"""Answers that mean the server did not process the request: a submit may be sent again."""

_WORKSPACES = TypeAdapter(list[Workspace])

_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
"""AQT's job ids are UUIDs."""

_NAME_ID = re.compile(r"[A-Za-z0-9_.:~-]{1,200}")
"""Workspace and resource ids: one URL path segment, nothing that needs escaping."""


def check_job_id(remote_job_id: object) -> str:
    """Return ``remote_job_id`` if it is an AQT job id (a UUID), before it goes into a URL.

    :raises AQTAPIError: otherwise (say, a record edited to hold ``../..``); nothing is sent.
    """
    if not isinstance(remote_job_id, str) or not _JOB_ID.fullmatch(remote_job_id):
        raise AQTAPIError(f"{_show(remote_job_id)} is not an AQT job id (a UUID); no request was sent")
    return remote_job_id


def check_name_id(kind: str, value: object) -> str:
    """Return a workspace or resource id if it is one plain URL path segment.

    :raises AQTAPIError: otherwise; nothing is sent.
    """
    if not isinstance(value, str) or not _NAME_ID.fullmatch(value) or value in (".", ".."):
        raise AQTAPIError(
            f"{_show(value)} is not an AQT {kind} id (letters, digits and . _ : ~ -); no request was sent"
        )
    return value


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- a deadline over every socket operation of one request ---------------------------------------

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "qdispatch_aqt_deadline", default=None
)


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the current request's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, with :class:`_DeadlineStream` streams."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(
            path, _left(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _transport() -> httpx.HTTPTransport:
    """Return httpx's transport on a connection pool whose sockets keep the request deadline.

    httpx has no public parameter for httpcore's network backend, so the pool
    it built is replaced by an equal one with :class:`_DeadlineBackend`.
    """
    transport = httpx.HTTPTransport()
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=_DeadlineBackend(),
    )
    return transport


@attrs.frozen
class Answer:
    """One HTTP answer, read whole (at most :data:`MAX_RESPONSE_BYTES`)."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        """The body as text (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")


class _TooLarge(AQTAPIError):
    """An answer was larger than the cap."""


def _detail(answer: Answer) -> str:
    """Return the error detail of an answer, masked before it is cut to 300 characters."""
    try:
        body = json.loads(answer.content)
    except ValueError:
        return redact(answer.text)[:300]
    if isinstance(body, dict) and "detail" in body:
        return redact(str(body["detail"]))[:300]
    return redact(str(body))[:300]


def _transient_status(status: int) -> bool:
    return status == 429 or status >= 500


class AQTClient:
    """Talks to one Arnica API base URL with one set of credentials.

    :param url: the API base URL (``.../api``).
    :param credentials: where bearer tokens come from.
    :param timeout: seconds allowed for each request, from connecting to the last byte of the answer.
    :param max_response_bytes: the largest answer read.
    """

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        timeout: float = 10.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self._http = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}, transport=_transport())
        # a device dropped without close() (the core keeps no close hook for devices) still closes its sockets
        self._finalizer = weakref.finalize(self, self._http.close)

    def close(self) -> None:
        """Close the connection pool, and the log-in's HTTP clients if the credentials keep any."""
        self._finalizer()
        close_credentials = getattr(self.credentials, "close", None)
        if callable(close_credentials):
            close_credentials()

    # -- one request, with the token refreshed once after a 401 --------------------------

    def _exchange(self, method: str, path: str, token: str, content: str | None) -> Answer:
        """Send one request and read its answer whole, all within ``timeout`` and the size cap."""
        headers = {"Authorization": f"Bearer {token}"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        request = self._http.build_request(method, self.url + path, content=content, headers=headers)
        reset = _DEADLINE.set(time.monotonic() + self.timeout)
        try:
            response = self._http.send(request, stream=True)
            try:
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.max_response_bytes:
                    raise self._too_large(method, path)
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        raise self._too_large(method, path)
                    chunks.append(chunk)
            finally:
                response.close()
        finally:
            _DEADLINE.reset(reset)
        return Answer(response.status_code, b"".join(chunks))

    def _too_large(self, method: str, path: str) -> _TooLarge:
        limit = self.max_response_bytes / (1 << 20)
        return _TooLarge(
            f"AQT's answer to {method} {path} is larger than {limit:g} MiB, the most qdispatch reads; "
            "it stopped reading there"
        )

    def _send(self, method: str, path: str, content: str | None = None) -> Answer:
        for attempt in range(2):
            token = check_token(self.credentials.token(), self.credentials.source, sending=True)
            answer = self._exchange(method, path, token, content)
            if answer.status_code not in (401, 403):
                return answer
            if attempt == 0 and answer.status_code == 401 and self.credentials.invalidate(token):
                continue
            raise AQTCredentialsError(
                f"AQT at {self.url} refused the access token from {self.credentials.source} "
                f"(HTTP {answer.status_code}: {_detail(answer)}); {HOW_TO_CONFIGURE}"
            )
        raise AssertionError("unreachable")

    def _failure(self, exc: httpx.HTTPError) -> str:
        """Describe a transport failure; a timeout names the deadline."""
        if isinstance(exc, httpx.TimeoutException):
            return f"no complete answer within the {self.timeout:g} s timeout ({type(exc).__name__})"
        return f"{type(exc).__name__}: {exc}"

    def _read(self, path: str) -> Answer:
        """GET ``path``; raise :class:`AQTTransientError` for what a retry may fix."""
        try:
            answer = self._send("GET", path)
        except _REFUSED_HERE as exc:
            raise AQTAPIError(
                f"GET {path} was refused on this machine and not sent: {self._failure(exc)}"
            ) from None
        except httpx.TransportError as exc:
            raise AQTTransientError(f"GET {path} failed: {self._failure(exc)}") from None
        if _transient_status(answer.status_code):
            raise AQTTransientError(
                f"GET {path} answered HTTP {answer.status_code}: {_detail(answer)}", answer.status_code
            )
        return answer

    @staticmethod
    def _parse(answer: Answer, parse: Callable[[bytes], T], what: str) -> T:
        try:
            return parse(answer.content)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
            raise AQTAPIError(
                f"AQT's answer to {what} does not match AQT's models ({exc.error_count()} problem(s): "
                f"{problems})"
            ) from None

    # -- the endpoints ---------------------------------------------------------------

    def submit(
        self, workspace: str, resource: str, request: SubmitJobRequest, attempts: int = 4
    ) -> SubmitJobResponse:
        """POST a job; return AQT's answer with the remote job id.

        Only failures that prove the request was not processed (no connection,
        HTTP 429 or 503) are retried, at most ``attempts`` times in all.

        :raises AQTSubmitUncertainError: if the request may have reached AQT but no answer came back.
        :raises AQTCredentialsError: if the token is refused, here (malformed: not sent) or by AQT.
        :raises AQTAPIError: if AQT refused the job (the message is AQT's), or this machine refused
            to send it (the message says so).
        """
        path = f"/v1/submit/{check_name_id('workspace', workspace)}/{check_name_id('resource', resource)}"
        body = request.model_dump_json()
        lost = (
            f"AQT may or may not have the job, so qdispatch will not send it again: look for label "
            f"{request.label!r} in AQT's portal"
        )
        for attempt in range(1, attempts + 1):
            try:
                answer = self._send("POST", path, content=body)
            except _NOT_SENT as exc:
                if attempt == attempts:
                    raise AQTTransientError(f"cannot reach AQT at {self.url}: {self._failure(exc)}") from None
                time.sleep(min(0.2 * 2**attempt, 2.0) * random.uniform(0.8, 1.2))
                continue
            except _REFUSED_HERE as exc:
                raise AQTAPIError(
                    f"the submit to {self.url}{path} was refused on this machine before sending "
                    f"({self._failure(exc)}); nothing was sent"
                ) from None
            except httpx.TransportError as exc:
                raise AQTSubmitUncertainError(
                    f"the submit to {self.url}{path} was sent but its answer was lost "
                    f"({self._failure(exc)}); {lost}"
                ) from None
            except _TooLarge as exc:
                raise AQTSubmitUncertainError(
                    f"the submit to {self.url}{path} was sent but {exc}; {lost}"
                ) from None
            status = answer.status_code
            if status in _RETRY_SUBMIT_STATUS and attempt < attempts:
                time.sleep(min(0.2 * 2**attempt, 2.0) * random.uniform(0.8, 1.2))
                continue
            if status >= 500 and status not in _RETRY_SUBMIT_STATUS:
                raise AQTSubmitUncertainError(
                    f"the submit to {self.url}{path} answered HTTP {status} ({_detail(answer)}); {lost}",
                    status,
                )
            if status == 404:
                raise AQTAPIError(
                    f"AQT at {self.url} has no resource {resource!r} in workspace {workspace!r}: "
                    f"{_detail(answer)}",
                    status,
                )
            if status >= 400:
                raise AQTAPIError(f"AQT refused the job (HTTP {status}): {_detail(answer)}", status)
            try:
                return self._parse(answer, SubmitJobResponse.model_validate_json, "a submit")
            except AQTAPIError as exc:
                raise AQTSubmitUncertainError(f"{exc}; {lost}") from None
        raise AQTTransientError(
            f"AQT at {self.url} kept answering that it is busy; the job was not submitted"
        )

    def job_state(self, remote_job_id: str) -> ResultResponse:
        """GET the state of a remote job (one request).

        :raises AQTJobNotFoundError: if AQT does not know the job.
        :raises AQTTransientError: for what a retry may fix.
        :raises AQTAPIError: if ``remote_job_id`` is not a job id (nothing sent), or for another error.
        """
        answer = self._read(f"/v1/result/{check_job_id(remote_job_id)}")
        if answer.status_code == 404:
            raise AQTJobNotFoundError(remote_job_id, self.url)
        if answer.status_code >= 400:
            raise AQTAPIError(
                f"AQT answered HTTP {answer.status_code} for job {remote_job_id}: {_detail(answer)}",
                answer.status_code,
            )
        return self._parse(answer, ResultResponse.model_validate_json, f"the state of job {remote_job_id}")

    def cancel(self, remote_job_id: str) -> bool:
        """Ask AQT to cancel a remote job; return whether it accepted.

        404 and 405 (no cancel endpoint) and 409 (already finished) give False.

        :raises AQTAPIError: if ``remote_job_id`` is not a job id (nothing is sent).
        """
        path = f"/v1/jobs/{check_job_id(remote_job_id)}"
        try:
            answer = self._send("DELETE", path)
        except (httpx.TransportError, _TooLarge):
            return False
        return 200 <= answer.status_code < 300

    def workspaces(self) -> list[Workspace]:
        """GET the workspaces (and their resources) the token may use."""
        answer = with_retries(lambda: self._read("/v1/workspaces"))
        if answer.status_code >= 400:
            raise AQTAPIError(f"AQT answered HTTP {answer.status_code} for the workspaces: {_detail(answer)}")
        return self._parse(answer, _WORKSPACES.validate_json, "the workspaces")

    def resource(self, resource_id: str) -> ResourceDetails | None:
        """GET a resource's details, or ``None`` if AQT does not know it."""
        path = f"/v1/resources/{check_name_id('resource', resource_id)}"
        answer = with_retries(lambda: self._read(path))
        if answer.status_code == 404:
            return None
        if answer.status_code >= 400:
            raise AQTAPIError(
                f"AQT answered HTTP {answer.status_code} for resource {resource_id!r}: {_detail(answer)}"
            )
        return self._parse(answer, ResourceDetails.model_validate_json, f"resource {resource_id!r}")


def with_retries(call: Callable[[], T], attempts: int = 5, initial: float = 0.1, cap: float = 2.0) -> T:
    """Return ``call()``, retrying :class:`AQTTransientError` with jittered exponential backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except AQTTransientError:
            if attempt == attempts:
                raise
            time.sleep(min(initial * 2 ** (attempt - 1), cap) * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")
