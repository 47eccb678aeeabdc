"""Keep credentials out of every message the plugin builds, whatever the text's origin.

:func:`redact` replaces, with ``***``, the secrets this process handed to AQT
(registered by the credentials as they are read or fetched), any ``Bearer``
value, any credential field (``access_token=...``, ``"client_secret": "..."``)
and anything shaped like a JWT. The plugin's errors pass their messages
through it, so a server that echoes the ``Authorization`` header back cannot
get a token into an exception, a job's ``error_message`` or a stored record.
"""

from __future__ import annotations

import re
import threading

MASK = "***"

_SECRETS: set[str] = set()
_LOCK = threading.Lock()

_SHORT = 8
"""Secrets shorter than this are masked only as whole words, so a tiny test token cannot mangle a message."""

_PATTERNS = (
    re.compile(r"(?i)(\b(?:bearer|basic)\s+)[^\s\"',;}\]]+"),
    re.compile(
        r"(?i)([\"']?\b(?:access_token|refresh_token|id_token|client_secret|api_key|authorization|password)"
        r"[\"']?\s*[:=]\s*[\"']?)(?!(?:bearer|basic)\b)[^\s\"',;&}\]]+"
    ),
    re.compile(r"()\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"),
)


def register_secret(value: str | None) -> None:
    """Remember ``value`` (a token or client secret) so :func:`redact` masks it from now on."""
    if value:
        with _LOCK:
            _SECRETS.add(value)
            escaped = repr(value)[1:-1]
            if escaped != value:
                _SECRETS.add(escaped)  # as it appears quoted in a repr


def redact(text: str) -> str:
    """Return ``text`` with every registered secret, bearer value and credential field masked."""
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if len(secret) >= _SHORT:
            text = text.replace(secret, MASK)
        elif secret in text:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text
