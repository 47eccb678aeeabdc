"""A minimal OIDC issuer for the local server: client-credentials tokens signed with RS256.

It answers ``POST /oauth/token`` and ``GET /.well-known/jwks.json`` the way
AQT's Auth0 tenant does for ``aqt-connector``, so the client-credentials
log-in and token refresh can be exercised offline.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


class TokenIssuer:
    """Issues short-lived access tokens to known clients and verifies them.

    :param clients: ``{client_id: client_secret}`` allowed to log in.
    :param lifetime: seconds an access token is valid.
    """

    KEY_ID = "qdispatch-aqt-local"

    def __init__(self, clients: Mapping[str, str], lifetime: float = 3600.0) -> None:
        self.clients = dict(clients)
        self.lifetime = lifetime
        self.issuer = ""
        self.audience = ""
        self.issued = 0
        self._lock = threading.Lock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def configure(self, issuer: str, audience: str) -> None:
        """Set the issuer URL (ending in ``/``) and the audience (the API URL) once the port is known."""
        self.issuer = issuer
        self.audience = audience

    def jwks(self) -> dict[str, Any]:
        """Return the JSON Web Key Set holding the public key."""
        key = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        key.update({"kid": self.KEY_ID, "use": "sig", "alg": "RS256"})
        return {"keys": [key]}

    def token(self, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer a token request: ``(status, JSON body)``."""
        if body.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "only client_credentials"}
        client_id, secret = body.get("client_id"), body.get("client_secret")
        if not isinstance(client_id, str) or self.clients.get(client_id) != secret:
            return 401, {"error": "access_denied", "error_description": "Unauthorized"}
        now = time.time()
        claims = {
            "iss": self.issuer,
            "sub": f"{client_id}@clients",
            "aud": body.get("audience") or self.audience,
            "iat": int(now),
            "exp": math.ceil(now + self.lifetime),  # whole seconds, and never shorter than the lifetime
        }
        with self._lock:
            self.issued += 1
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.KEY_ID})
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": int(self.lifetime)}

    def valid(self, token: str) -> bool:
        """Return whether ``token`` is one of ours, for our audience, and unexpired."""
        try:
            jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
            )
        except jwt.PyJWTError:
            return False
        return True
