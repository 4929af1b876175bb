"""Settings of the ``nats`` and ``nats-jetstream`` sinks: the original KETE's keys and defaults."""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr

from kete_core import CommaList, Duration, EncodingSettings, Lowercase, TlsSettings

log = logging.getLogger("kete.nats")

AuthenticationMethod = Literal[
    "none",
    "username-and-password",
    "token",
    "nkey",
    "credentials-file-path",
    "credentials-file-text",
    "credentials-file-base64",
]

# What each authentication method needs, as KETE requires it.
_NEEDS: dict[str, tuple[str, ...]] = {
    "username-and-password": ("username", "password"),
    "token": ("token",),
    "nkey": ("nkey_seed",),
    "credentials-file-path": ("credentials_file_path",),
    "credentials-file-text": ("credentials_file_text",),
    "credentials-file-base64": ("credentials_file_base64",),
}


class NatsSinkConfig(EncodingSettings):
    """Settings of the ``nats`` sink (core NATS).

    KETE's ``content-encoding`` and ``content-transfer-encoding`` are accepted and, as in KETE's NATS
    destinations, not applied."""

    servers: CommaList
    """Comma-separated server URLs (``nats://nats-1:4222,nats://nats-2:4222``)."""
    subject: str
    """The subject, a template (``keycloak.${realmLowerCase}.${eventTypeLowerCase}``)."""
    authentication_method: Annotated[AuthenticationMethod, Lowercase]
    """Required, as in KETE: ``none``, ``username-and-password``, ``token``, ``nkey``,
    ``credentials-file-path``, ``credentials-file-text`` or ``credentials-file-base64``."""
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    nkey_seed: SecretStr | None = None
    """The user's nkey seed (``SU…``), for ``nkey``."""
    credentials_file_path: str | None = None
    """A ``.creds`` file (user JWT and nkey seed), for ``credentials-file-path``."""
    credentials_file_text: SecretStr | None = None
    credentials_file_base64: SecretStr | None = None
    connection_name: str = "kete"
    """Shown in the server's monitoring."""
    connection_timeout_seconds: Duration = Field(default=10.0, gt=0)
    """Time to connect; also the time the server has to confirm a batch (core NATS)."""
    ping_interval_seconds: Duration = Field(default=60.0, gt=0)
    headers: dict[str, str] = {}
    """Extra message headers, templates; ``eventkind``, ``eventtype`` and ``contenttype`` are kete's."""
    tls: TlsSettings = TlsSettings()
    """KETE's ``tls.*``: trust store, key store (mutual TLS), ``verify-hostname``, …"""
    pool: dict[str, Any] = {}
    """KETE's ``pool.*``: accepted; kete keeps one connection per route and pipelines each batch on it."""

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work."""
        found = []
        if not self.servers:
            found.append(("servers", "required: one or more NATS server URLs"))
        for field in _NEEDS.get(self.authentication_method, ()):
            if not getattr(self, field):
                setting = field.replace("_", "-")
                found.append((setting, f"required when authentication-method is {self.authentication_method}"))
        if self.authentication_method == "credentials-file-base64" and self.credentials_file_base64:
            try:
                base64.b64decode(self.credentials_file_base64.get_secret_value(), validate=True)
            except (binascii.Error, ValueError):
                found.append(("credentials-file-base64", "not valid Base64"))
        path = self.credentials_file_path
        if self.authentication_method == "credentials-file-path" and path and not Path(path).is_file():
            found.append(("credentials-file-path", f"no such file: {self.credentials_file_path}"))
        return found

    def credentials_text(self) -> str | None:
        """The contents of the credentials file, whichever way it is given (None when not used)."""
        method = self.authentication_method
        if method == "credentials-file-path" and self.credentials_file_path:
            return Path(self.credentials_file_path).read_text()
        if method == "credentials-file-text" and self.credentials_file_text:
            return self.credentials_file_text.get_secret_value()
        if method == "credentials-file-base64" and self.credentials_file_base64:
            return base64.b64decode(self.credentials_file_base64.get_secret_value()).decode()
        return None


class NatsJetStreamSinkConfig(NatsSinkConfig):
    """Settings of the ``nats-jetstream`` sink."""

    stream: str
    """The JetStream stream the subjects belong to; it must exist (kete checks at start, as KETE)."""
    publish_timeout_seconds: Duration = Field(default=10.0, gt=0)
    """Time JetStream has to acknowledge a batch's messages."""
