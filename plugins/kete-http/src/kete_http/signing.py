"""HMAC signatures over the exact bytes of a request body, compatible with p2-inc/keycloak-events.

p2-inc sends ``X-Keycloak-Signature: <lowercase hex HmacSHA256 of the body>`` (``HmacSHA1`` on
request). Other senders put a prefix before the digest (``sha256=<hex>``, GitHub style); the
``prefix`` setting covers them.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, SecretStr

from kete_core import ComponentConfig

_ALIASES = {"hmacsha1": "sha1", "hmacsha256": "sha256", "hmacsha512": "sha512", "hmac-sha256": "sha256"}


def _algorithm(value: Any) -> Any:
    if isinstance(value, str):
        name = value.strip().lower()
        return _ALIASES.get(name, name)
    return value


Algorithm = Annotated[Literal["sha1", "sha256", "sha512"], BeforeValidator(_algorithm)]
"""``sha256`` (default), ``sha1`` or ``sha512``; Java's names (``HmacSHA256``) are accepted."""


class SigningSettings(ComponentConfig):
    """``signing.*``: the shared secret and where the signature travels."""

    secret: SecretStr
    header: str = "X-Keycloak-Signature"
    algorithm: Algorithm = "sha256"
    prefix: str = ""
    """Text before the hex digest, e.g. ``sha256=``."""

    def sign(self, body: bytes) -> str:
        """The header value for *body*: the prefix and the lowercase hex HMAC."""
        digest = hmac.new(self.secret.get_secret_value().encode(), body, getattr(hashlib, self.algorithm))
        return self.prefix + digest.hexdigest()

    def verify(self, body: bytes, value: str | None) -> bool:
        """True when *value* (the received header) is the signature of *body*; constant time."""
        if value is None:
            return False
        received = value.strip()
        if received[: len(self.prefix)].lower() != self.prefix.lower():
            return False
        expected = self.sign(body)[len(self.prefix) :].encode()
        return hmac.compare_digest(expected, received[len(self.prefix) :].lower().encode("utf-8", "replace"))
