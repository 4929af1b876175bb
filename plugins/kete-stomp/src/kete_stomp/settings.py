"""Settings of the ``stomp`` sink (:class:`StompSinkConfig`): KETE's keys and defaults.

KETE's ``content-encoding`` and ``content-transfer-encoding`` are accepted and, as in KETE, not applied
by this destination; ``pool.*`` is accepted (see the README for what it means here).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from kete_core import Duration, EncodingSettings, TlsSettings


def _required(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


class StompSinkConfig(EncodingSettings):
    """Settings of the ``stomp`` sink, with KETE's names and defaults."""

    host: str
    """The broker's host name or address."""
    port: int | None = Field(default=None, gt=0, lt=65536)
    """The broker's port: 61613, or 61614 with TLS."""
    destination: str
    """Where each message goes, a template (``/queue/keycloak.${realmLowerCase}``)."""
    username: str = ""
    """Sent as ``login`` in the CONNECT frame."""
    password: SecretStr = SecretStr("")
    """Sent as ``passcode`` in the CONNECT frame."""
    virtual_host: str | None = None
    """The CONNECT frame's ``host`` header; by default the ``host`` setting."""
    receipt_enabled: bool = True
    """Ask for a RECEIPT for each SEND and count the event delivered only once it came (KETE's code
    default); off: a message written to the socket counts as delivered."""
    heart_beat_outgoing_seconds: int = Field(default=30, ge=0)
    heart_beat_incoming_seconds: int = Field(default=30, ge=0)
    read_timeout_seconds: Duration = Field(default=30.0, gt=0)
    """How long to wait for the CONNECTED frame and for the receipts of a batch."""
    headers: dict[str, str] = {}
    """Custom headers (static values) on each SEND; ``content-type``, ``content-length``, ``eventkind``,
    ``eventtype``, ``destination`` and ``receipt`` win over them."""
    tls: TlsSettings = TlsSettings()
    """KETE's ``tls.*``: ``enabled``, ``verify-hostname``, trust and key stores, and kete's PEM file settings."""
    pool: dict[str, Any] = {}
    """KETE's ``pool.*`` settings, accepted so KETE configurations load; kete keeps one connection per route."""

    _host = field_validator("host")(_required)
    _destination = field_validator("destination")(_required)

    @property
    def effective_port(self) -> int:
        """``port``, or KETE's default: 61613, 61614 with TLS."""
        return self.port or (61614 if self.tls.enabled else 61613)

    @property
    def connect_host(self) -> str:
        """The CONNECT frame's ``host`` header."""
        return (self.virtual_host or "").strip() or self.host
