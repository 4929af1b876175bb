"""HMAC signatures over the exact bytes of a request body, compatible with p2-inc/keycloak-events.

p2-inc sends ``X-Keycloak-Signature: <lowercase hex HmacSHA256 of the body>`` (``HmacSHA1`` on
request). Other senders put a prefix before the digest (``sha256=<hex>``, GitHub style); the
``prefix`` setting covers them.

With ``timestamp-header`` set, the request also carries the time it was signed (epoch seconds) in
that header, the HMAC covers ``<timestamp>.<body>`` (Stripe's scheme), and a receiver refuses a
timestamp more than ``tolerance`` away from its clock: a captured request can then be replayed
only within that window.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, SecretStr

from kete_core import ComponentConfig, Duration

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
    timestamp_header: str | None = None
    """Sign a timestamp too, sent in this header (e.g. ``X-Kete-Timestamp``); off by default (p2-inc sends none)."""
    tolerance: Duration = 300.0
    """With ``timestamp-header``: how far a request's timestamp may be from the receiver's clock."""

    def sign(self, body: bytes, timestamp: str | None = None) -> str:
        """The signature header's value for *body* (and *timestamp*, with ``timestamp-header``):
        the prefix and the lowercase hex HMAC."""
        signed = body if timestamp is None else timestamp.encode() + b"." + body
        digest = hmac.new(self.secret.get_secret_value().encode(), signed, getattr(hashlib, self.algorithm))
        return self.prefix + digest.hexdigest()

    def headers(self, body: bytes) -> dict[str, str]:
        """The headers a sender adds to a request with *body*."""
        if self.timestamp_header is None:
            return {self.header: self.sign(body)}
        timestamp = str(int(time.time()))
        return {self.timestamp_header: timestamp, self.header: self.sign(body, timestamp)}

    def problem(self, body: bytes, headers: Any) -> str | None:
        """Why a request with *body* and *headers* (a case-insensitive mapping) is not signed
        right, or None; constant-time comparison."""
        value = headers.get(self.header)
        timestamp = None
        if self.timestamp_header is not None:
            timestamp = (headers.get(self.timestamp_header) or "").strip()
            if not timestamp.isascii() or not timestamp.isdigit():
                return f"missing or malformed {self.timestamp_header} timestamp"
            if abs(time.time() - int(timestamp)) > self.tolerance:
                return f"the {self.timestamp_header} timestamp is more than {self.tolerance:g} s from this clock"
        if value is None:
            return f"missing or wrong {self.header} signature"
        received = value.strip()
        if received[: len(self.prefix)].lower() != self.prefix.lower():
            return f"missing or wrong {self.header} signature"
        expected = self.sign(body, timestamp)[len(self.prefix) :].encode()
        if not hmac.compare_digest(expected, received[len(self.prefix) :].lower().encode("utf-8", "replace")):
            return f"missing or wrong {self.header} signature"
        return None
