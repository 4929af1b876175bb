"""Connecting to NATS with KETE's settings: ``authentication-method``, TLS from kete's ``tls.*``, and the
warning about a credentials file whose JWT expires soon."""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any

import nats
from nats.aio.client import Client, RawCredentials

from kete_core import Unavailable, client_ssl_context
from kete_nats.settings import NatsSinkConfig

log = logging.getLogger("kete.nats")

JWT_EXPIRY_WARNING_DAYS = 30
_JWT_START = "-----BEGIN NATS USER JWT-----"
_JWT_END = "------END NATS USER JWT------"


def jwt_expiry(credentials: str) -> float | None:
    """The ``exp`` claim (epoch seconds) of the user JWT in a credentials file, if it has one."""
    start, end = credentials.find(_JWT_START), credentials.find(_JWT_END)
    if start < 0 or end < 0:
        return None
    jwt = credentials[start + len(_JWT_START) : end].strip()
    try:
        claims = jwt.split(".")[1]
        expiry = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4))).get("exp")
    except (IndexError, ValueError, AttributeError):
        log.warning("could not read the expiry of the JWT in the NATS credentials file")
        return None
    return float(expiry) if isinstance(expiry, int | float) else None


def warn_if_expiring(credentials: str, path: str) -> None:
    """Warn, as KETE does, when the JWT of a credentials file expires within 30 days (or has expired)."""
    expiry = jwt_expiry(credentials)
    if expiry is None:
        return
    days = int((expiry - time.time()) / 86400)  # toward zero, as Java's Duration.toDays()
    if days < 0:
        log.warning("%s: the NATS JWT expired %d day(s) ago; authentication will fail", path, -days)
    elif days <= JWT_EXPIRY_WARNING_DAYS:
        log.warning("%s: the NATS JWT expires in %d day(s); a longer-lived JWT suits a service", path, days)


def connect_options(config: NatsSinkConfig, path: str) -> dict[str, Any]:
    """The arguments of :func:`nats.connect` for *config* (without callbacks)."""
    options: dict[str, Any] = {
        "servers": list(config.servers),
        "name": config.connection_name or None,
        "connect_timeout": config.connection_timeout_seconds,
        "ping_interval": config.ping_interval_seconds,
        # kete reconnects itself on the next batch (KETE's client failed publishes during a
        # reconnect rather than buffering them): no message waits unseen in a client buffer.
        "allow_reconnect": False,
        # Each server is tried twice, 0.2 s apart, before connecting fails (nats-py's defaults
        # try each for two minutes).
        "max_reconnect_attempts": 1,
        "reconnect_time_wait": 0.2,
    }
    method = config.authentication_method
    if method == "username-and-password" and config.password is not None:
        options["user"] = config.username
        options["password"] = config.password.get_secret_value()
    elif method == "token" and config.token is not None:
        options["token"] = config.token.get_secret_value()
    elif method == "nkey" and config.nkey_seed is not None:
        options["nkeys_seed_str"] = config.nkey_seed.get_secret_value()
    elif method.startswith("credentials-file"):
        credentials = config.credentials_text()
        if credentials is not None:
            warn_if_expiring(credentials, f"{path}.{method}")
            options["user_credentials"] = RawCredentials(credentials)
    if config.tls.enabled:
        options["tls"] = client_ssl_context(config.tls, f"{path}.tls")
    return options


class Connector:
    """Opens the route's connection and says why when it cannot."""

    def __init__(self, config: NatsSinkConfig, path: str) -> None:
        self.options = connect_options(config, path)
        self.where = ",".join(config.servers)
        self.last_error: Exception | None = None

    async def _on_error(self, error: Exception) -> None:
        self.last_error = error
        log.debug("NATS at %s: %s", self.where, error)

    async def connect(self) -> Client:
        """A new connection; :class:`Unavailable` with the server's reason when there is none."""
        self.last_error = None
        try:
            return await nats.connect(**self.options, error_cb=self._on_error)
        except Exception as exc:
            raise self.unavailable(exc) from None

    def unavailable(self, exc: BaseException) -> Unavailable:
        """The :class:`Unavailable` for a connection that failed with *exc*."""
        reason = describe(self.last_error if self.last_error is not None and exc is not self.last_error else exc)
        if reason != describe(exc):
            reason = f"{describe(exc)} ({reason})"
        return Unavailable(f"cannot reach NATS at {self.where}: {reason}")


def describe(exc: BaseException) -> str:
    """*exc* in words (nats-py's errors are often blank)."""
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text and text != name else name
