"""Settings of the ``grpc`` sink: KETE's names and defaults, plus kete's ``max-concurrency``."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from kete_core import Duration, EncodingSettings, TlsSettings

# gRPC metadata keys: lowercase letters, digits, ``-``, ``_`` and ``.`` (the HTTP/2 header rules).
_KEY = re.compile(r"^[0-9a-z_.-]+$")
# Printable ASCII: what a gRPC metadata value (not a ``-bin`` one) may hold.
_ASCII_VALUE = re.compile(r"^[\x20-\x7e]*$")
# Names gRPC itself sends; a custom header cannot replace them.
_TRANSPORT_KEYS = {"content-type", "te", "user-agent", "host"}
MESSAGE_HEADERS = ("eventkind", "eventtype", "contenttype")
"""KETE's message headers, sent as metadata with every call."""


class GrpcSinkConfig(EncodingSettings):
    """Settings of the ``grpc`` sink (``content-encoding`` and ``content-transfer-encoding`` come from
    :class:`~kete_core.EncodingSettings`)."""

    host: str = ""
    """The server's host name or address (required)."""
    port: int = Field(default=50051, gt=0, lt=65536)
    service: str = ""
    """The full service name (``com.example.EventService``), a template; required."""
    method: str = ""
    """The method name (``SendEvent``), a template; required. Calls go to ``/<service>/<method>``."""
    timeout_seconds: Duration = 10.0
    """The deadline of each call, and of the probe call at start."""
    use_plaintext: bool = False
    """Speak HTTP/2 without TLS. Otherwise TLS is used, with ``tls.*`` when set and the system's CAs."""
    headers: dict[str, str] = {}
    """Metadata sent with every call (``authorization = "Bearer …"``), besides KETE's three."""
    tls: TlsSettings = TlsSettings()
    """KETE's ``tls.*`` (trust store, key store for mutual TLS) and kete's PEM file settings."""
    max_concurrency: int = Field(default=64, gt=0)
    """Calls in flight at once for this route, over one HTTP/2 connection; 1 keeps a batch in order."""
    pool: dict[str, Any] = {}
    """KETE's ``pool.*`` settings, accepted so KETE configurations load; kete keeps one channel per route."""

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that are missing or cannot work."""
        found: list[tuple[str, str]] = []
        for setting in ("host", "service", "method"):
            if not getattr(self, setting).strip():
                found.append((setting, f"'{setting}' is required"))
        for name, value in self.headers.items():
            key = name.strip().lower()
            if not _KEY.match(key) or key.startswith((":", "grpc-")) or key in _TRANSPORT_KEYS:
                found.append((f"headers.{name}", "not a metadata key kete can send (gRPC reserves it or forbids it)"))
            elif key.endswith("-bin"):
                found.append((f"headers.{name}", "binary ('-bin') metadata is not supported: values are ASCII text"))
            elif not _ASCII_VALUE.match(value):
                found.append((f"headers.{name}", "a metadata value must be printable ASCII"))
        if not self.use_plaintext and not self.tls.verify:
            found.append(("tls.verify", "gRPC always verifies the server's certificate: trust its CA with tls.ca-file"))
        return found

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The custom metadata as sent: keys lower-cased, values trimmed; blank values and KETE's own
        header names left out (its message headers win, as in KETE)."""
        pairs = ((name.strip().lower(), value.strip()) for name, value in self.headers.items())
        return tuple((key, value) for key, value in pairs if value and key not in MESSAGE_HEADERS)

    @property
    def target(self) -> str:
        """``host:port`` as gRPC names it (an IPv6 address in brackets)."""
        host = self.host.strip()
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self.port}"
