"""Settings of the ``http`` sink and the ``http`` source."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr

from kete_core import (
    CommaList,
    ComponentConfig,
    Duration,
    EncodingSettings,
    Lowercase,
    OAuthSettings,
    ServerTlsSettings,
    TlsSettings,
)
from kete_core import Size as Bytes
from kete_http.signing import SigningSettings

log = logging.getLogger("kete.http")

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


AuthenticationType = Literal["none", "basic", "bearer", "api-key", "x-api-key", "oauth"]


class HttpSinkConfig(EncodingSettings):
    """Settings of the ``http`` sink: KETE's names (``content-encoding`` and ``content-transfer-encoding``
    come from :class:`~kete_core.EncodingSettings`), plus kete's signing, TLS and retry settings."""

    url: str | None = None
    """The target, a template (``https://siem.example/${realmLowerCase}/events``)."""
    host: str | None = None
    """Instead of ``url``: host, ``port`` and ``path-and-query`` (KETE's form)."""
    port: int | None = Field(default=None, gt=0, lt=65536)
    path_and_query: str = "/"
    method: Annotated[str, BeforeValidator(_upper)] = "POST"
    timeout_seconds: Duration = 10.0
    """Time for one attempt: connecting, sending and reading the answer."""
    headers: dict[str, str] = {}
    """Extra request headers; values are templates."""
    authentication_type: Annotated[AuthenticationType | None, Lowercase] = None
    basic_username: str | None = None
    basic_password: SecretStr | None = None
    bearer_token: SecretStr | None = None
    api_key_value: SecretStr | None = None
    x_api_key_value: SecretStr | None = None
    oauth: OAuthSettings = OAuthSettings()
    signing: SigningSettings | None = None
    tls: TlsSettings = TlsSettings()
    """KETE's ``tls.*`` (trust store, key store, ``verify-hostname``, …) and kete's PEM file settings."""
    max_concurrency: int = Field(default=16, gt=0)
    """Requests in flight at once for this route; 1 keeps the events of a batch in order."""
    retry_attempts: int = Field(default=3, gt=0)
    """Attempts per event within one send, the first included."""
    retry_initial_backoff: Duration = 0.2
    retry_max_backoff: Duration = 5.0
    """Longest pause between attempts; a longer ``Retry-After`` ends the sink's own retries."""
    event_id_header: str | None = None
    """A header that carries the Keycloak event id (for idempotent receivers), e.g. ``Idempotency-Key``."""
    pool: dict[str, Any] = {}
    """KETE's ``pool.*`` settings, accepted so KETE configurations load; kete keeps one connection pool
    per route, sized by ``max-concurrency``."""

    @property
    def oauth_active(self) -> bool:
        """OAuth is in use: ``authentication-type = "oauth"`` (unless ``oauth.enabled = false``), or
        the older KETE form with only ``oauth.enabled = true``."""
        return self.oauth.active(self.authentication_type)

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work together; checked when the sink is built,
        outside pydantic so that no secret is echoed in an error."""
        found: list[tuple[str, str]] = []
        if not self.url and not self.host:
            found.append(("url", "set 'url' (or 'host', with 'port' and 'path-and-query')"))
        if not _TOKEN.match(self.method):
            found.append(("method", f"not an HTTP method: {self.method!r}"))
        for name in self.headers:
            if not _TOKEN.match(name):
                found.append((f"headers.{name}", "not a valid header name"))
        for setting, name in (("event-id-header", self.event_id_header), ("signing.header", self._signing_header)):
            if name is not None and not _TOKEN.match(name):
                found.append((setting, "not a valid header name"))
        needs = {
            "basic": ("basic_username", "basic_password"),
            "bearer": ("bearer_token",),
            "api-key": ("api_key_value",),
            "x-api-key": ("x_api_key_value",),
        }
        for field in needs.get(self.authentication_type or "", ()):
            if getattr(self, field) is None:
                setting = field.replace("_", "-")
                found.append((setting, f"authentication-type = '{self.authentication_type}' needs '{setting}'"))
        if self.oauth_active:
            found += self.oauth.problems()
        if self.retry_max_backoff < self.retry_initial_backoff:
            found.append(("retry-max-backoff", "must not be shorter than retry-initial-backoff"))
        return found

    @property
    def _signing_header(self) -> str | None:
        return self.signing.header if self.signing is not None else None

    def target(self) -> str:
        """The URL template: ``url``, or one built from ``host``/``port``/``path-and-query``."""
        if self.url:
            if self.host:
                log.warning("http sink: both 'url' and 'host' are set; 'url' wins, as in KETE")
            return self.url
        scheme = "https" if self.tls.enabled else "http"
        port = self.port or (443 if self.tls.enabled else 80)
        path = self.path_and_query if self.path_and_query.startswith("/") else "/" + self.path_and_query
        return f"{scheme}://{self.host}:{port}{path}"


Size = Annotated[Bytes, Field(gt=0)]


class HttpSourceConfig(ComponentConfig):
    """Settings of the ``http`` source."""

    host: str = "127.0.0.1"
    """Address to listen on; ``0.0.0.0`` for every interface."""
    port: int = Field(default=8088, ge=0, lt=65536)
    """Port to listen on; 0 picks a free one (logged at start)."""
    path: str = "/"
    """The path events are POSTed to."""
    max_body_size: Size = 1024 * 1024
    """Largest request body, before and after decompression (``1MiB``); larger ones get 413."""
    max_events: int = Field(default=1000, gt=0)
    """Most events in one request; more get 413."""
    content_types: CommaList = ["application/json"]
    """Accepted media types (parameters such as ``charset`` are ignored); others get 415."""
    signing: SigningSettings | None = None
    """Require an HMAC signature of the raw body (p2-inc's ``X-Keycloak-Signature``)."""
    bearer_token: SecretStr | None = None
    """Require ``Authorization: Bearer <token>``."""
    basic_username: str | None = None
    """Require HTTP Basic authentication (vymalo's ``WEBHOOK_HTTP_AUTH_USERNAME``)."""
    basic_password: SecretStr | None = None
    tls: ServerTlsSettings = ServerTlsSettings()
    """Serve HTTPS: ``cert-file``/``key-file`` or ``key-store``; ``client-ca-file`` or ``trust-store`` requires
    client certificates signed by those CAs."""
    retry_after: Duration = 1.0
    """What a 503 tells the sender to wait."""
    idle_timeout: Duration = 60.0
    """How long a connection may go without a complete request head: from its opening, or from the
    previous answer on a kept-alive connection. Bounds silent and slow-header clients."""
    body_timeout: Duration = 30.0
    """How long reading a request's body may take; a slower client gets 408."""
    shutdown_timeout: Duration = 10.0
    """On stop, how long requests in flight may take to finish."""
    drain_time: Duration = 2.0
    """On stop, how long the listener stays open answering 503 with Retry-After before it closes."""
    reuse_port: bool = False
    """Listen with SO_REUSEPORT, so that a successor can listen on the same port before this one stops."""
    realm_names: dict[str, str] = {}
    """Realm id → realm name, for events that carry only ``realmId``."""
