"""Where the AQT access token comes from: a static token, or AQT's log-in through ``aqt-connector``.

Tokens are kept in memory only; qdispatch never writes them to its store,
its records or its messages (each is registered with :mod:`qdispatch_aqt.redact`
as it is read). Surrounding whitespace (a token read from a file keeps its
newline) is stripped; a token with whitespace, control or non-ASCII characters
inside is refused without being quoted. The order searched, first found wins:

1. the ``token`` option (``get_backend("aqt", token=...)``, or ``token`` under
   ``[backends.aqt]`` in the qdispatch configuration);
2. the ``AQT_TOKEN`` environment variable;
3. client credentials, for AQT's OIDC log-in: the ``client_id`` and
   ``client_secret`` options, else ``AQT_CLIENT_ID`` / ``AQT_CLIENT_SECRET``,
   else AQT's own configuration file (``~/.aqt/config``); the access token is
   fetched and refreshed before it expires;
4. a log-in stored by ``python -m aqt_connector log-in``.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from qdispatch_aqt.errors import AQTCredentialsError, AQTTransientError
from qdispatch_aqt.redact import redact, register_secret

if TYPE_CHECKING:
    from aqt_connector import ArnicaApp

HOW_TO_CONFIGURE = (
    "give token=... to provider.get_backend('aqt', ...), set `token` under [backends.aqt] in the "
    "qdispatch configuration file, or set the AQT_TOKEN environment variable; for AQT's log-in, set "
    "AQT_CLIENT_ID and AQT_CLIENT_SECRET (or run `python -m aqt_connector log-in`)"
)
"""Where a user can put AQT credentials; quoted by every credentials error."""


def check_token(token: str, source: str, *, sending: bool = False) -> str:
    """Return ``token`` without surrounding whitespace, registered for redaction.

    :param sending: the check guards a request about to be sent (the message says it was not).
    :raises AQTCredentialsError: if it is empty or holds whitespace, control or non-ASCII
        characters; the message never quotes it.
    """
    stripped = token.strip()
    if stripped:
        register_secret(token)
        register_secret(stripped)
    problem = None
    if not stripped:
        problem = "is empty"
    elif not all("\x21" <= char <= "\x7e" for char in stripped):
        problem = "contains whitespace, control or non-ASCII characters (not shown here)"
    if problem is not None:
        outcome = "; the request was not sent" if sending else ""
        raise AQTCredentialsError(
            f"the AQT access token from {source} {problem}{outcome}; {HOW_TO_CONFIGURE}"
        )
    return stripped


class Credentials(Protocol):
    """Hands out the bearer token for requests; ``source`` says where it comes from."""

    source: str

    def token(self) -> str:
        """Return a token to send now."""
        ...

    def invalidate(self, token: str) -> bool:
        """Forget ``token`` after AQT refused it; return whether a fresh one may be fetched."""
        ...


class StaticToken:
    """A token given by the user; it cannot be refreshed.

    :param token: the bearer token.
    :param source: where it was found, for error messages.
    """

    def __init__(self, token: str, source: str) -> None:
        self._token = check_token(token, source)
        self.source = source

    def token(self) -> str:
        """Return the token."""
        return self._token

    def invalidate(self, token: str) -> bool:
        """Return False: a static token cannot be replaced."""
        return False

    def __repr__(self) -> str:
        return f"StaticToken(source={self.source!r})"


def _expiry(token: str) -> tuple[float, float] | None:
    """Return ``(issued_at, expires_at)`` from a JWT's claims, or None if it has none."""
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    if "exp" not in claims:
        return None
    expires = float(claims["exp"])
    return float(claims.get("iat", expires - 3600)), expires


class ClientCredentials:
    """AQT's OIDC client-credentials log-in, through ``aqt-connector``; refreshes the token.

    :param client_id: the OIDC client id.
    :param client_secret: the OIDC client secret.
    :param url: the Arnica API base URL (the token's audience).
    :param issuer: the OIDC issuer; ``None`` for AQT's own.
    :param source: where the credentials were found, for error messages.
    """

    def __init__(self, client_id: str, client_secret: str, url: str, issuer: str | None, source: str) -> None:
        register_secret(client_secret)
        self._client = (client_id, client_secret)
        self._url = url
        self._issuer = issuer
        self.source = source
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self._app: ArnicaApp | None = None

    def _application(self) -> ArnicaApp:
        from aqt_connector import ArnicaApp, ArnicaConfig

        if self._app is None:
            config = ArnicaConfig(app_dir=Path.home() / ".aqt")
            config.arnica_url = self._url
            config.store_access_token = False
            if self._issuer is not None:
                issuer = self._issuer.rstrip("/") + "/"
                config.oidc_config.issuer = issuer
                config.oidc_config.jwks_url = issuer + ".well-known/jwks.json"
                config.oidc_config.audience = self._url
            self._app = ArnicaApp(config)
            self._closer = weakref.finalize(self, self._app.close)  # aqt-connector keeps HTTP clients open
        return self._app

    def close(self) -> None:
        """Close ``aqt-connector``'s HTTP clients (done as well when these credentials are collected)."""
        if self._app is not None:
            self._closer()

    def token(self) -> str:
        """Return the current access token, logging in again when it is about to expire."""
        import httpx
        from aqt_connector.exceptions import AuthenticationError, TokenValidationError

        with self._lock:
            if self._token is not None and time.time() < self._refresh_at:
                return self._token
            try:
                token: str = self._application().oidc_service.authenticate_with_client_credentials(
                    self._client
                )
            except AuthenticationError as exc:
                raise AQTCredentialsError(
                    f"AQT's log-in refused the client credentials from {self.source}; {HOW_TO_CONFIGURE}"
                ) from exc
            except TokenValidationError as exc:
                raise AQTCredentialsError(
                    f"the access token AQT's log-in returned for the client credentials from {self.source} "
                    "failed verification (issuer, audience or signature)"
                ) from exc
            except httpx.TransportError as exc:
                raise AQTTransientError(
                    f"cannot reach AQT's log-in service: {type(exc).__name__}: {exc}"
                ) from None
            except Exception as exc:  # aqt-connector's own parsing of a bad answer: never quote it unmasked
                raise AQTCredentialsError(
                    f"AQT's log-in for the client credentials from {self.source} failed: "
                    f"{type(exc).__name__}: {redact(str(exc))[:300]}"
                ) from None
            token = check_token(token, f"AQT's log-in ({self.source})")
            times = _expiry(token)
            if times is None:
                self._refresh_at = time.time() + 300
            else:
                issued, expires = times
                margin = min(30.0, max(expires - issued, 0.0) / 5)
                self._refresh_at = expires - margin
            self._token = token
            return token

    def invalidate(self, token: str) -> bool:
        """Drop ``token`` so the next call logs in again; return True."""
        with self._lock:
            if self._token == token:
                self._token = None
        return True

    def __repr__(self) -> str:
        return f"ClientCredentials(source={self.source!r})"


class StoredLogin:
    """The access token ``python -m aqt_connector log-in`` stored in AQT's own configuration.

    :param url: the Arnica API base URL.
    """

    source = "the log-in stored by aqt-connector"

    def __init__(self, url: str) -> None:
        from aqt_connector import ArnicaApp, ArnicaConfig

        config = ArnicaConfig(app_dir=Path.home() / ".aqt")
        config.arnica_url = url
        self._app = ArnicaApp(config)
        self._closer = weakref.finalize(self, self._app.close)

    def close(self) -> None:
        """Close ``aqt-connector``'s HTTP clients (done as well when these credentials are collected)."""
        self._closer()

    def token(self) -> str:
        """Return the stored token (refreshed by ``aqt-connector`` if it can)."""
        from aqt_connector import get_access_token

        token: str | None = get_access_token(self._app)
        if not token:
            raise AQTCredentialsError(
                f"the AQT log-in stored by aqt-connector has expired; {HOW_TO_CONFIGURE}"
            )
        return check_token(token, self.source)

    def invalidate(self, token: str) -> bool:
        """Return False: a refused stored token needs a new log-in."""
        return False


def _aqt_file_settings() -> dict[str, Any]:
    from aqt_connector import ArnicaConfig

    config = ArnicaConfig(app_dir=Path.home() / ".aqt")
    return {"client_id": config.client_id, "client_secret": config.client_secret}


def resolve_credentials(
    *,
    url: str,
    token: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    issuer: str | None = None,
) -> Credentials:
    """Return the credentials to use, searched in the order the module docstring gives.

    :raises AQTCredentialsError: if none are found, saying where to put them.
    """
    if token:
        return StaticToken(token, "the token option (get_backend(..., token=...) or [backends.aqt] token)")
    env_token = os.environ.get("AQT_TOKEN")
    if env_token:
        return StaticToken(env_token, "the AQT_TOKEN environment variable")
    register_secret(client_secret)
    if client_id and client_secret:
        return ClientCredentials(client_id, client_secret, url, issuer, "the client_id/client_secret options")
    found = _aqt_file_settings()
    register_secret(found["client_secret"])
    if found["client_id"] and found["client_secret"]:
        source = (
            "AQT_CLIENT_ID/AQT_CLIENT_SECRET"
            if os.environ.get("AQT_CLIENT_ID") and os.environ.get("AQT_CLIENT_SECRET")
            else "AQT's configuration file (~/.aqt/config)"
        )
        return ClientCredentials(found["client_id"], found["client_secret"], url, issuer, source)
    app_dir = Path.home() / ".aqt"
    if (app_dir / "access_token").exists() or (app_dir / "refresh_token").exists():
        return StoredLogin(url)
    raise AQTCredentialsError(f"no AQT credentials found: {HOW_TO_CONFIGURE}")
