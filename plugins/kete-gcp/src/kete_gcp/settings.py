"""Settings of the GCP sinks: KETE's names and defaults (``GcpUtils``, ``GcpPubSubDestinationConfig``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr

from kete_core import ComponentConfig, Duration, EncodingSettings, Lowercase, TlsSettings

PUBSUB_URL = "https://pubsub.googleapis.com"
PUBSUB_SCOPE = "https://www.googleapis.com/auth/pubsub"
CLOUD_TASKS_ENDPOINT = "cloudtasks.googleapis.com:443"
CLOUD_TASKS_SCOPE = "https://www.googleapis.com/auth/cloud-tasks"
HTTP_METHODS = ("POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS")
"""The methods of Cloud Tasks' ``HttpMethod`` enum."""
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


class CloudTasksSinkConfig(GcpSettings, EncodingSettings):
    """Settings of the ``gcp-cloud-tasks`` sink (``content-encoding`` and ``content-transfer-encoding``
    come from :class:`~kete_core.EncodingSettings` and apply to each task's body)."""

    project: str = ""
    """The project id (required)."""
    location: str = ""
    """The queue's location (``europe-west1``; required)."""
    queue: str = ""
    """The queue id, a template (required)."""
    target_url: str = ""
    """The URL each task calls (required)."""
    http_method: str = "POST"
    """The task's HTTP method (upper-cased): POST, GET, HEAD, PUT, DELETE, PATCH or OPTIONS."""
    endpoint: str = CLOUD_TASKS_ENDPOINT
    """The gRPC endpoint, ``host:port``: an emulator's (``localhost:8123``) instead of Google's."""
    use_plaintext: bool = False
    """Speak HTTP/2 without TLS (an emulator). Otherwise TLS, with ``tls.*`` when set and the system's CAs."""
    timeout_seconds: Duration = Field(default=10.0, gt=0)
    """The deadline of each call (KETE: of the queue check at start only) and of token requests."""
    max_concurrency: int = Field(default=64, gt=0)
    """``CreateTask`` calls in flight at once for this route, over one channel."""

    @property
    def method(self) -> str:
        """``http-method`` as sent: trimmed and upper-cased."""
        return self.http_method.strip().upper()

    def problems(self) -> list[tuple[str, str]]:
        """The credentials' problems, and Cloud Tasks' own."""
        found = super().problems()
        for setting in ("project", "location", "queue"):
            if not getattr(self, setting).strip():
                found.append((setting, f"'{setting}' is required"))
        if not self.target_url.strip().lower().startswith(("http://", "https://")):
            found.append(("target-url", "'target-url' is required and must be a valid absolute URL"))
        if self.method not in HTTP_METHODS:
            found.append(("http-method", f"must be a valid HTTP method ({', '.join(HTTP_METHODS)})"))
        endpoint = self.endpoint.strip()
        host, _, port = endpoint.rpartition(":")
        if not host or not port.isdigit():
            found.append(("endpoint", "must be host:port (cloudtasks.googleapis.com:443, localhost:8123)"))
        if not self.authentication_type and endpoint == CLOUD_TASKS_ENDPOINT:
            found.append(("authentication-type", f"credentials are required for {CLOUD_TASKS_ENDPOINT}"))
        if not self.use_plaintext and not self.tls.verify:
            found.append(("tls.verify", "gRPC always verifies the server's certificate: trust its CA with tls.ca-file"))
        return found
