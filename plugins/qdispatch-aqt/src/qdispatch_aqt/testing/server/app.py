"""The local AQT-compatible server: AQT's Arnica API v1 on 127.0.0.1, circuits run on Aer.

Endpoints, under ``/api``: ``GET /v1/workspaces``, ``GET /v1/resources/{id}``,
``POST /v1/submit/{workspace}/{resource}``, ``GET /v1/result/{job_id}`` and
``DELETE /v1/jobs/{job_id}``; with OIDC clients configured, also
``POST /oauth/token`` and ``GET /.well-known/jwks.json`` at the root. Requests
and answers are validated with ``aqt-connector``'s models. Every request is
logged in :attr:`AQTServer.requests`, so tests can count submits and polls.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
from aqt_connector.models.arnica.jobs import BasicJobMetadata
from aqt_connector.models.arnica.request_bodies.jobs import SubmitJobRequest
from aqt_connector.models.arnica.resources import ResourceStatus, ResourceType
from aqt_connector.models.arnica.response_bodies.jobs import (
    JobState,
    ResultResponse,
    RRCancelled,
    RRError,
    RRFinished,
    RROngoing,
    RRQueued,
    SubmitJobResponse,
)
from aqt_connector.models.arnica.response_bodies.resources import ResourceDetails, WorkspaceResource
from aqt_connector.models.arnica.response_bodies.workspaces import Workspace
from pydantic import ValidationError

from qdispatch_aqt.testing.server.faults import Faults
from qdispatch_aqt.testing.server.jobs import JobQueue, Resource, ServerJob
from qdispatch_aqt.testing.server.oidc import TokenIssuer

DEFAULT_RESOURCES = (
    Resource("offline_simulator_no_noise", "Offline simulator (no noise)", 20, False),
    Resource("offline_simulator_noise", "Offline simulator (noise)", 20, True),
)
"""The resources of the server's workspace, named as AQT's offline simulators."""

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"/api/v1/workspaces"), "workspaces"),
    ("GET", re.compile(r"/api/v1/resources/(?P<resource>[^/]+)"), "resource"),
    ("POST", re.compile(r"/api/v1/submit/(?P<workspace>[^/]+)/(?P<resource>[^/]+)"), "submit"),
    ("GET", re.compile(r"/api/v1/result/(?P<job>[^/]+)"), "result"),
    ("DELETE", re.compile(r"/api/v1/jobs/(?P<job>[^/]+)"), "cancel"),
    ("POST", re.compile(r"/oauth/token"), "token"),
    ("GET", re.compile(r"/\.well-known/jwks\.json"), "jwks"),
]


@attrs.frozen
class LoggedRequest:
    """One request the server received."""

    time: float
    """``time.monotonic()`` when the answer was sent (or the connection dropped)."""
    method: str
    path: str
    endpoint: str
    status: int | None
    """The HTTP status answered; ``None`` for a dropped connection."""
    job_id: str | None = None
    fault: str | None = None


class _Reply(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class AQTServer:
    """An AQT-compatible HTTP server for trying the remote path offline and for tests.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    :param port: the TCP port on 127.0.0.1 (0: any free port).
    :param tokens: bearer tokens accepted; ``None`` accepts any non-empty token
        (unless ``clients`` is given, then only tokens the server issued).
    :param workspace: the id of the one workspace.
    :param resources: the resources in it.
    :param faults: faults to inject (see :class:`Faults`).
    :param workers: jobs run at the same time.
    :param queue_delay: seconds each job stays queued at least.
    :param queue_jitter: a random extra queue delay, up to this many seconds.
    :param circuit_time: extra seconds each circuit takes.
    :param seed: base seed of the simulations.
    :param clients: OIDC ``{client_id: client_secret}`` allowed to log in.
    :param token_lifetime: seconds an issued access token is valid.
    :param cancel_supported: answer 405 to ``DELETE /v1/jobs/...`` when False.
    :param host: the address to listen on.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        tokens: Iterable[str] | None = None,
        workspace: str = "default",
        resources: Iterable[Resource] = DEFAULT_RESOURCES,
        faults: Faults | None = None,
        workers: int = 1,
        queue_delay: float = 0.0,
        queue_jitter: float = 0.0,
        circuit_time: float = 0.0,
        seed: int | None = None,
        clients: Mapping[str, str] | None = None,
        token_lifetime: float = 3600.0,
        cancel_supported: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.tokens = None if tokens is None else frozenset(tokens)
        self.workspace = workspace
        self.resources = {r.id: r for r in resources}
        self.faults = faults if faults is not None else Faults()
        self.issuer = TokenIssuer(clients, token_lifetime) if clients else None
        self.cancel_supported = cancel_supported
        self.requests: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._workers = workers
        self._timing = (queue_delay, queue_jitter, circuit_time)
        self._seed = seed
        self._queue: JobQueue | None = None
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.app = self
        self._thread: threading.Thread | None = None
        self.port = self._httpd.server_address[1]
        self.root = f"http://{host}:{self.port}"
        if self.issuer is not None:
            self.issuer.configure(issuer=self.root + "/", audience=self.url)

    @property
    def url(self) -> str:
        """The API base URL clients use (``AQT_ARNICA_URL``)."""
        return self.root + "/api"

    @property
    def jobs(self) -> JobQueue:
        """The job queue (started by :meth:`start`)."""
        if self._queue is None:
            raise RuntimeError("the server is not started")
        return self._queue

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> AQTServer:
        """Start serving in a background thread; return self."""
        delay, jitter, circuit_time = self._timing
        self._queue = JobQueue(
            self.faults,
            workers=self._workers,
            queue_delay=delay,
            queue_jitter=jitter,
            circuit_time=circuit_time,
            seed=self._seed,
        )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="aqt-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and stop the job workers."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        if self._queue is not None:
            self._queue.stop()

    def __enter__(self) -> AQTServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def hold(self) -> None:
        """Keep new and queued jobs queued until :meth:`release`."""
        self.jobs.hold()

    def release(self) -> None:
        """Let held jobs run."""
        self.jobs.release()

    # -- the request log ----------------------------------------------------------------

    def log(self, entry: LoggedRequest) -> None:
        """Append one request to :attr:`requests`."""
        with self._log_lock:
            self.requests.append(entry)

    def count(self, endpoint: str, *, job_id: str | None = None, answered: bool = False) -> int:
        """Return how many requests reached ``endpoint`` (for one job, or only those answered 2xx)."""
        with self._log_lock:
            return sum(
                1
                for r in self.requests
                if r.endpoint == endpoint
                and (job_id is None or r.job_id == job_id)
                and (not answered or (r.status is not None and 200 <= r.status < 300))
            )

    # -- the endpoints ------------------------------------------------------------------

    def authorize(self, header: str | None) -> None:
        """Raise a 401 reply unless ``header`` carries an accepted bearer token."""
        if not header or not header.startswith("Bearer ") or not header[7:].strip():
            raise _Reply(401, {"detail": "Not authenticated"})
        token = header[7:].strip()
        if self.tokens is not None and token in self.tokens:
            return
        if self.issuer is not None and self.issuer.valid(token):
            return
        if self.tokens is None and self.issuer is None:
            return
        raise _Reply(401, {"detail": "Invalid or expired token"})

    def handle(self, endpoint: str, params: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        """Serve one authorized request: ``(status, JSON-able body)``."""
        if endpoint == "workspaces":
            return 200, [self._workspace().model_dump(mode="json")]
        if endpoint == "resource":
            return 200, self._resource(params["resource"]).model_dump(mode="json")
        if endpoint == "submit":
            return self._submit(params["workspace"], params["resource"], body)
        job = self._job(params["job"])
        if endpoint == "cancel":
            if not self.cancel_supported:
                return 405, {"detail": "Method Not Allowed"}
            if not self.jobs.cancel(job):
                return 409, {"detail": f"job {job.job_id} already ended ({job.status})"}
        return 200, self._result(job).model_dump(mode="json")

    def _workspace(self) -> Workspace:
        busy = any(j.status in ("queued", "ongoing") for j in list(self.jobs.jobs.values()))
        return Workspace(
            id=self.workspace,
            accepting_job_submissions=True,
            jobs_being_processed=busy,
            resources=[
                WorkspaceResource(id=r.id, name=r.name, type=ResourceType.SIMULATOR)
                for r in self.resources.values()
            ],
        )

    def _resource(self, resource_id: str) -> ResourceDetails:
        resource = self.resources.get(resource_id)
        if resource is None:
            raise _Reply(404, {"detail": f"resource {resource_id!r} not found"})
        return ResourceDetails(
            id=resource.id,
            name=resource.name,
            type=ResourceType.SIMULATOR,
            status=ResourceStatus.ONLINE,
            available_qubits=resource.qubits,
            status_updated_at=datetime.now(UTC),
        )

    def _submit(self, workspace: str, resource_id: str, body: bytes) -> tuple[int, Any]:
        if workspace != self.workspace:
            raise _Reply(404, {"detail": f"workspace {workspace!r} not found"})
        resource = self.resources.get(resource_id)
        if resource is None:
            raise _Reply(404, {"detail": f"resource {resource_id!r} not found in workspace {workspace!r}"})
        try:
            request = SubmitJobRequest.model_validate_json(body)
        except ValidationError as exc:
            raise _Reply(422, {"detail": json.loads(exc.json(include_url=False))}) from None
        for index, circuit in enumerate(request.payload.circuits):
            if circuit.number_of_qubits > resource.qubits:
                raise _Reply(
                    422,
                    {
                        "detail": f"circuit {index} uses {circuit.number_of_qubits} qubits; "
                        f"{resource.id} has {resource.qubits}"
                    },
                )
        job = self.jobs.add(workspace, resource, request.label, list(request.payload.circuits))
        answer = SubmitJobResponse(job=self._metadata(job), response=RRQueued())
        return 200, answer.model_dump(mode="json")

    def _job(self, text: str) -> ServerJob:
        try:
            job_id = uuid.UUID(text)
        except ValueError:
            raise _Reply(422, {"detail": f"{text!r} is not a job id"}) from None
        job = self.jobs.jobs.get(job_id)
        if job is None:
            raise _Reply(404, {"detail": f"job {text} not found"})
        return job

    @staticmethod
    def _metadata(job: ServerJob) -> BasicJobMetadata:
        return BasicJobMetadata(
            job_id=job.job_id, label=job.label, resource_id=job.resource.id, workspace_id=job.workspace
        )

    def _result(self, job: ServerJob) -> ResultResponse:
        status = job.status
        state: JobState
        if status == "queued":
            state = RRQueued()
        elif status == "ongoing":
            state = RROngoing(finished_count=job.finished_count)
        elif status == "finished":
            state = RRFinished(result=job.result or {})
        elif status == "error":
            state = RRError(message=job.message or "unknown error")
        else:
            state = RRCancelled()
        return ResultResponse(job=self._metadata(job), response=state)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    app: AQTServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hung up (a timed-out slow answer); report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the server keeps its own request log."""

    def do_GET(self) -> None:
        """Serve a GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Serve a POST."""
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        """Serve a DELETE."""
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        endpoint, params = "unknown", {}
        for route_method, pattern, name in _ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                endpoint, params = name, match.groupdict()
                break
        job_id = params.get("job")
        fault = app.faults.network(endpoint)
        if fault == "drop":
            self.close_connection = True
            app.log(LoggedRequest(time.monotonic(), method, path, endpoint, None, job_id, fault))
            return
        if fault == "slow":
            time.sleep(app.faults.slow_seconds)
        try:
            if endpoint == "unknown":
                raise _Reply(404, {"detail": "Not Found"})
            if fault == "error":
                raise _Reply(app.faults.error_status, {"detail": "injected server error"})
            if fault == "echo":
                raise _Reply(
                    400,
                    {"detail": f"bad request headers: Authorization: {self.headers.get('Authorization')}"},
                )
            if endpoint in ("token", "jwks"):
                if app.issuer is None:
                    raise _Reply(404, {"detail": "this server has no OIDC clients"})
                if endpoint == "jwks":
                    raise _Reply(200, app.issuer.jwks())
                try:
                    form = json.loads(body or b"{}")
                except ValueError:
                    raise _Reply(400, {"error": "invalid_request"}) from None
                raise _Reply(*app.issuer.token(form))
            app.authorize(self.headers.get("Authorization"))
            status, answer = app.handle(endpoint, params, body)
            if endpoint == "submit" and status == 200:
                job_id = answer["job"]["job_id"]
        except _Reply as reply:
            status, answer = reply.status, reply.body
        data = json.dumps(answer).encode()
        app.log(LoggedRequest(time.monotonic(), method, path, endpoint, status, job_id, fault))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
