"""Settings of the GCP sinks: KETE's names and defaults (``GcpUtils``, ``GcpPubSubDestinationConfig``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr

from kete_core import ComponentConfig, Duration, Lowercase, TlsSettings

PUBSUB_URL = "https://pubsub.googleapis.com"
PUBSUB_SCOPE = "https://www.googleapis.com/auth/pubsub"
AUTHENTICATION_TYPES = (
    "application-default",
    "service-account-file-path",
    "service-account-file-text",
    "service-account-file-base64",
)
MESSAGE_HEADERS = ("eventkind", "eventtype", "contenttype")
"""KETE's message headers, sent as attributes with every message."""


class GcpSettings(ComponentConfig):
    """KETE's GCP credentials, shared by the GCP sinks: ``authentication-type`` and one of
    ``credentials-file-path``/``-text``/``-base64`` (a service-account JSON key)."""

    authentication_type: Annotated[Literal["", *AUTHENTICATION_TYPES], Lowercase] = ""  # type: ignore[valid-type]
    """Empty: no credentials (an emulator); ``application-default``: ``GOOGLE_APPLICATION_CREDENTIALS``,
    gcloud's application-default file or the metadata server; ``service-account-file-*``: a key."""
    credentials_file_path: str = ""
    credentials_file_text: SecretStr = SecretStr("")
    credentials_file_base64: SecretStr = SecretStr("")
    timeout_seconds: Duration = Field(default=10.0, gt=0)
    """Each request's deadline (token requests too)."""
    headers: dict[str, str] = {}
    """Sent as attributes with every message, besides KETE's three (which win)."""
    tls: TlsSettings = TlsSettings()
    """KETE's ``tls.*``: the CA and client certificate for the service's endpoint."""
    pool: dict[str, Any] = {}
    """KETE's ``pool.*`` settings, accepted so KETE configurations load; kete keeps one session per route."""

    def credential_sources(self) -> dict[str, str]:
        """The ``credentials-file-*`` settings that are set, by name."""
        given = {
            "credentials-file-path": self.credentials_file_path.strip(),
            "credentials-file-text": self.credentials_file_text.get_secret_value().strip(),
            "credentials-file-base64": self.credentials_file_base64.get_secret_value().strip(),
        }
        return {name: value for name, value in given.items() if value}

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that are missing or contradict each other, as KETE checks."""
        found: list[tuple[str, str]] = []
        sources = self.credential_sources()
        kind = self.authentication_type
        if len(sources) > 1:
            found.append((next(iter(sources)), f"{', '.join(sources)} are mutually exclusive"))
        elif kind == "application-default" and sources:
            found.append((next(iter(sources)), "cannot be set when authentication-type is 'application-default'"))
        elif kind.startswith("service-account-file-"):
            needed = "credentials-" + kind.removeprefix("service-account-")
            if needed not in sources:
                found.append((needed, f"required when authentication-type is '{kind}'"))
        return found

    def attributes(self) -> dict[str, str]:
        """The custom attributes as sent: names and values trimmed, blank values and KETE's own names left out."""
        pairs = ((name.strip(), value.strip()) for name, value in self.headers.items())
        return {name: value for name, value in pairs if value and name not in MESSAGE_HEADERS}


class PubSubSinkConfig(GcpSettings):
    """Settings of the ``gcp-pubsub`` sink."""

    project: str = ""
    """The project id (required)."""
    topic: str = ""
    """The topic id, a template (required)."""
    url: str = PUBSUB_URL
    """The service's root: the emulator's (``http://localhost:8085``) instead of Google's."""
    ordering_key: str = ""
    """Each message's ordering key, a template; empty: none."""
    max_batch_messages: int = Field(default=1000, gt=0, le=1000)
    """Messages per ``:publish`` request at most (the service takes 1000)."""
    max_batch_bytes: int = Field(default=9_000_000, gt=0, le=10_000_000)
    """Bytes of message data per request at most (the service takes 10 MB a request, Base64 included)."""

    def problems(self) -> list[tuple[str, str]]:
        """The credentials' problems, and Pub/Sub's own."""
        found = super().problems()
        for setting in ("project", "topic"):
            if not getattr(self, setting).strip():
                found.append((setting, f"'{setting}' is required"))
        url = self.url.strip()
        if not url.lower().startswith(("http://", "https://")):
            found.append(("url", "must be a valid absolute URL"))
        if not self.authentication_type and url.rstrip("/").lower() == PUBSUB_URL:
            found.append(("authentication-type", f"credentials are required for {PUBSUB_URL}"))
        return found
