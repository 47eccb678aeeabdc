"""A small HTTP client for AQT's Arnica API v1, validating answers with ``aqt-connector``'s models.

Each method makes one logical call. Reads (``job_state``, ``workspaces``,
``resource``) raise :class:`AQTTransientError` for failures worth retrying;
``submit`` is different: once a submit may have reached AQT it is never sent
again, so a lost answer raises :class:`AQTSubmitUncertainError`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import httpx
from aqt_connector.models.arnica.response_bodies.jobs import ResultResponse, SubmitJobResponse
from aqt_connector.models.arnica.response_bodies.resources import ResourceDetails
from aqt_connector.models.arnica.response_bodies.workspaces import Workspace
from pydantic import TypeAdapter, ValidationError

from qdispatch_aqt.credentials import HOW_TO_CONFIGURE
from qdispatch_aqt.errors import (
    AQTAPIError,
    AQTCredentialsError,
    AQTJobNotFoundError,
    AQTSubmitUncertainError,
    AQTTransientError,
)

if TYPE_CHECKING:
    from aqt_connector.models.arnica.request_bodies.jobs import SubmitJobRequest

    from qdispatch_aqt.credentials import Credentials

T = TypeVar("T")

DEFAULT_URL = "https://arnica.aqt.eu/api"
"""AQT's Arnica API, used when no URL is configured."""

USER_AGENT = "qdispatch-aqt/0.1"

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport failures that happen before a request leaves this machine."""

_RETRY_SUBMIT_STATUS = frozenset({429, 503})
"""Answers that mean the server did not process the request: a submit may be sent again."""

_WORKSPACES = TypeAdapter(list[Workspace])


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:300]
    return str(body)[:300]


def _transient_status(status: int) -> bool:
    return status == 429 or status >= 500


class AQTClient:
    """Talks to one Arnica API base URL with one set of credentials.

    :param url: the API base URL (``.../api``).
    :param credentials: where bearer tokens come from.
    :param timeout: seconds allowed for each request.
    """

    def __init__(self, url: str, credentials: Credentials, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials
        self._http = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- one request, with the token refreshed once after a 401 --------------------------

    def _send(self, method: str, path: str, content: str | None = None) -> httpx.Response:
        for attempt in range(2):
            token = self.credentials.token()
            headers = {"Authorization": f"Bearer {token}"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            response = self._http.request(method, self.url + path, content=content, headers=headers)
            if response.status_code not in (401, 403):
                return response
            if attempt == 0 and response.status_code == 401 and self.credentials.invalidate(token):
                continue
            raise AQTCredentialsError(
                f"AQT at {self.url} refused the access token from {self.credentials.source} "
                f"(HTTP {response.status_code}: {_detail(response)}); {HOW_TO_CONFIGURE}"
            )
        raise AssertionError("unreachable")

    def _read(self, path: str) -> httpx.Response:
        """GET ``path``; raise :class:`AQTTransientError` for what a retry may fix."""
        try:
            response = self._send("GET", path)
        except httpx.TransportError as exc:
            raise AQTTransientError(f"GET {path} failed: {type(exc).__name__}: {exc}") from exc
        if _transient_status(response.status_code):
            raise AQTTransientError(
                f"GET {path} answered HTTP {response.status_code}: {_detail(response)}", response.status_code
            )
        return response

    @staticmethod
    def _parse(response: httpx.Response, parse: Callable[[str], T], what: str) -> T:
        try:
            return parse(response.text)
        except ValidationError as exc:
            raise AQTAPIError(f"AQT's answer to {what} does not match AQT's models: {exc}") from exc

    # -- the endpoints ---------------------------------------------------------------

    def submit(self, workspace: str, resource: str, request: SubmitJobRequest, attempts: int = 4) -> SubmitJobResponse:
        """POST a job; return AQT's answer with the remote job id.

        Only failures that prove the request was not processed (no connection,
        HTTP 429 or 503) are retried, at most ``attempts`` times in all.

        :raises AQTSubmitUncertainError: if the request may have reached AQT but no answer came back.
        :raises AQTAPIError: if AQT refused the job (the message is AQT's).
        """
        path = f"/v1/submit/{workspace}/{resource}"
        body = request.model_dump_json()
        for attempt in range(1, attempts + 1):
            try:
                response = self._send("POST", path, content=body)
            except _NOT_SENT as exc:
                if attempt == attempts:
                    raise AQTTransientError(f"cannot reach AQT at {self.url}: {exc}") from exc
                time.sleep(min(0.2 * 2**attempt, 2.0) * random.uniform(0.8, 1.2))
                continue
            except httpx.TransportError as exc:
                raise AQTSubmitUncertainError(
                    f"the submit to {self.url}{path} was sent but its answer was lost "
                    f"({type(exc).__name__}: {exc}); AQT may or may not have the job, so qdispatch will "
                    f"not send it again: look for label {request.label!r} in AQT's portal"
                ) from exc
            status = response.status_code
            if status in _RETRY_SUBMIT_STATUS and attempt < attempts:
                time.sleep(min(0.2 * 2**attempt, 2.0) * random.uniform(0.8, 1.2))
                continue
            if status >= 500 and status not in _RETRY_SUBMIT_STATUS:
                raise AQTSubmitUncertainError(
                    f"the submit to {self.url}{path} answered HTTP {status} ({_detail(response)}); AQT may or "
                    f"may not have the job, so qdispatch will not send it again: look for label "
                    f"{request.label!r} in AQT's portal",
                    status,
                )
            if status == 404:
                raise AQTAPIError(
                    f"AQT at {self.url} has no resource {resource!r} in workspace {workspace!r}: {_detail(response)}",
                    status,
                )
            if status >= 400:
                raise AQTAPIError(f"AQT refused the job (HTTP {status}): {_detail(response)}", status)
            return self._parse(response, SubmitJobResponse.model_validate_json, "a submit")
        raise AQTTransientError(f"AQT at {self.url} kept answering that it is busy; the job was not submitted")

    def job_state(self, remote_job_id: str) -> ResultResponse:
        """GET the state of a remote job (one request).

        :raises AQTJobNotFoundError: if AQT does not know the job.
        :raises AQTTransientError: for what a retry may fix.
        """
        response = self._read(f"/v1/result/{remote_job_id}")
        if response.status_code == 404:
            raise AQTJobNotFoundError(remote_job_id, self.url)
        if response.status_code >= 400:
            raise AQTAPIError(
                f"AQT answered HTTP {response.status_code} for job {remote_job_id}: {_detail(response)}",
                response.status_code,
            )
        return self._parse(response, ResultResponse.model_validate_json, f"the state of job {remote_job_id}")

    def cancel(self, remote_job_id: str) -> bool:
        """Ask AQT to cancel a remote job; return whether it accepted.

        404 and 405 (no cancel endpoint) and 409 (already finished) give False.
        """
        try:
            response = self._send("DELETE", f"/v1/jobs/{remote_job_id}")
        except httpx.TransportError:
            return False
        return 200 <= response.status_code < 300

    def workspaces(self) -> list[Workspace]:
        """GET the workspaces (and their resources) the token may use."""
        response = with_retries(lambda: self._read("/v1/workspaces"))
        if response.status_code >= 400:
            raise AQTAPIError(f"AQT answered HTTP {response.status_code} for the workspaces: {_detail(response)}")
        return self._parse(response, _WORKSPACES.validate_json, "the workspaces")

    def resource(self, resource_id: str) -> ResourceDetails | None:
        """GET a resource's details, or ``None`` if AQT does not know it."""
        response = with_retries(lambda: self._read(f"/v1/resources/{resource_id}"))
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise AQTAPIError(
                f"AQT answered HTTP {response.status_code} for resource {resource_id!r}: {_detail(response)}"
            )
        return self._parse(response, ResourceDetails.model_validate_json, f"resource {resource_id!r}")


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

