"""The device behind the ``aqt`` backend: one resource in one workspace of AQT's cloud."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from qdispatch.errors import BackendError, ConfigurationError
from qdispatch.validation import positive_number
from qdispatch_aqt.client import DEFAULT_URL, AQTClient
from qdispatch_aqt.credentials import resolve_credentials
from qdispatch_aqt.redact import redact
from qdispatch_aqt.target import MAX_CIRCUITS, MAX_QUBITS, MAX_SHOTS, aqt_target

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.result import Result

SECRET_OPTIONS = frozenset({"token", "client_secret"})
"""Options of the ``aqt`` backend that never reach a record."""


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str, allow_insecure_http: bool) -> None:
    """Refuse a URL that would carry credentials unencrypted over the network.

    ``https://`` is always fine; ``http://`` only to this machine (``localhost``,
    127.0.0.0/8, ``::1``) unless ``allow_insecure_http``.

    :raises ConfigurationError: naming the option that allows it.
    """
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"the AQT {what} must start with http:// or https://, not {url!r}")
    host = urlsplit(url).hostname or ""
    if url.startswith("http://") and not allow_insecure_http and not _loopback(host):
        raise ConfigurationError(
            f"the AQT {what} {url!r} is plain http:// to {host!r}, another machine: the access token (or "
            "client secret) would cross the network unencrypted. Use https://, or set "
            "allow_insecure_http=True if the network is trusted"
        )


def _describe(workspaces: Sequence[Any]) -> str:
    parts = [f"{w.id} ({', '.join(r.id for r in w.resources) or 'no resources'})" for w in workspaces]
    return "; ".join(parts) or "none"


class AQTDevice:
    """A resource of AQT's cloud; its circuits run only through the ``aqt`` executor.

    :param workspace: the AQT workspace id.
    :param resource: the resource id in that workspace.
    :param url: the Arnica API base URL (default ``$AQT_ARNICA_URL``, else AQT's).
    :param token: a static bearer token (default ``$AQT_TOKEN``, else AQT's log-in).
    :param client_id: OIDC client id for AQT's log-in (default ``$AQT_CLIENT_ID``).
    :param client_secret: OIDC client secret (default ``$AQT_CLIENT_SECRET``).
    :param oidc_issuer: the OIDC issuer of the log-in (default: AQT's).
    :param num_qubits: the resource's width; given, the resource is not looked up.
    :param timeout: seconds allowed for each HTTP request, from connecting to the answer's last byte.
    :param allow_insecure_http: allow a plain ``http://`` URL (or issuer) to another machine.
    """

    name = "aqt"
    max_shots = MAX_SHOTS
    max_circuits: int | None = MAX_CIRCUITS
    executor: str | None = "aqt"
    secret_options: frozenset[str] = SECRET_OPTIONS
    endpoint_options: frozenset[str] = frozenset({"url", "oidc_issuer"})
    """Where the credentials go: a stored record may not change these (see docs/security.md)."""

    def __init__(
        self,
        *,
        workspace: str | None = None,
        resource: str | None = None,
        url: str | None = None,
        token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        oidc_issuer: str | None = None,
        num_qubits: int | None = None,
        timeout: float = 10.0,
        allow_insecure_http: bool = False,
    ) -> None:
        self.url = (url or os.environ.get("AQT_ARNICA_URL") or DEFAULT_URL).rstrip("/")
        check_url(self.url, "url", allow_insecure_http)
        if oidc_issuer is not None:
            check_url(oidc_issuer, "oidc_issuer", allow_insecure_http)
        timeout = positive_number("timeout", timeout, owner="backend 'aqt'")
        credentials = resolve_credentials(
            url=self.url, token=token, client_id=client_id, client_secret=client_secret, issuer=oidc_issuer
        )
        self.client = AQTClient(self.url, credentials, timeout=float(timeout))
        try:
            self._set_up(workspace, resource, num_qubits)
        except BaseException:
            self.client.close()
            raise

    def _set_up(self, workspace: str | None, resource: str | None, num_qubits: int | None) -> None:
        if not workspace or not resource:
            listed = _describe(self.client.workspaces())
            raise ConfigurationError(
                redact(f"backend 'aqt' needs workspace= and resource=; AQT at {self.url} offers: {listed}")
            )
        self.workspace = workspace
        self.resource = resource
        self.resource_type: str | None = None
        if num_qubits is None:
            num_qubits = self._look_up()
        elif (
            isinstance(num_qubits, bool)
            or not isinstance(num_qubits, int)
            or not 1 <= num_qubits <= MAX_QUBITS
        ):
            raise ConfigurationError(
                f"num_qubits must be an integer from 1 to {MAX_QUBITS}, not {num_qubits!r}"
            )
        self.num_qubits = num_qubits
        self.target = aqt_target(num_qubits)

    def _look_up(self) -> int:
        """Check the workspace holds the resource and return the resource's qubit count."""
        workspaces = self.client.workspaces()
        found = next((w for w in workspaces if w.id == self.workspace), None)
        if found is None or all(r.id != self.resource for r in found.resources):
            raise ConfigurationError(
                redact(
                    f"AQT at {self.url} has no resource {self.resource!r} in workspace {self.workspace!r}; "
                    f"available: {_describe(workspaces)}"
                )
            )
        details = self.client.resource(self.resource)
        if details is None:
            raise ConfigurationError(f"AQT at {self.url} does not describe resource {self.resource!r}")
        self.resource_type = details.type.value
        qubits: int = details.available_qubits
        return min(qubits, MAX_QUBITS)

    def close(self) -> None:
        """Close the HTTP connections (a dropped device closes them when collected)."""
        self.client.close()

    def run_circuits(
        self, circuits: Sequence[QuantumCircuit], shots: int, run_options: Mapping[str, Any]
    ) -> Result:
        """Refuse: AQT's circuits run remotely, through the ``aqt`` executor only."""
        raise BackendError(
            "backend 'aqt' runs circuits on AQT's cloud through the 'aqt' executor only; "
            "use provider.get_backend('aqt', ...).run(...)"
        )

    def provenance(self) -> dict[str, Any]:
        """Return the resource that ran the circuits (no seed, no noise model)."""
        return {
            "simulator": f"aqt:{self.workspace}/{self.resource}",
            "simulator_version": self.resource_type,
            "seed": None,
            "noise_fingerprint": None,
        }

    def __repr__(self) -> str:
        return f"<AQTDevice {self.workspace}/{self.resource} at {self.url}>"
