"""Settings of the ``socketio`` sink: KETE's keys, plus OAuth and TLS from kete-core."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field

from kete_core import ComponentConfig, Duration, Lowercase, OAuthSettings, TlsSettings

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class SocketIoSinkConfig(ComponentConfig):
    """``destination.*`` of ``kind = "socketio"``."""

    url: str
    """The server's base URL (``http(s)://host:port``)."""
    event_name: str
    """The Socket.IO event each Keycloak event is emitted as, a template (``keycloak-${eventTypeKebabCase}``)."""
    namespace: str = ""
    """The namespace to connect to (``/events``); the default namespace ``/`` when blank."""
    path: str = "/socket.io/"
    """The server's Socket.IO path."""
    timeout_seconds: Duration = Field(default=20.0, gt=0)
    """Time to connect, and for the server to acknowledge a batch."""
    ack: bool = True
    """Count an event delivered when the server calls its acknowledgement callback (kete's
    guarantee); ``false`` counts it once written, as KETE did, for servers whose handlers never ack."""
    headers: dict[str, str] = {}
    """Extra headers of the Engine.IO handshake."""
    authentication_type: Annotated[Literal["none", "oauth"] | None, Lowercase] = None
    oauth: OAuthSettings = OAuthSettings()
    """OAuth 2.0 client credentials: the token goes in the handshake's ``Authorization`` header."""
    tls: TlsSettings = TlsSettings()
    pool: dict[str, Any] = {}
    """KETE's ``pool.*``, accepted so KETE configurations load; kete keeps one connection."""

    @property
    def oauth_active(self) -> bool:
        """OAuth is in use, as KETE decides."""
        return self.oauth.active(self.authentication_type)

    @property
    def namespace_path(self) -> str:
        """The namespace as Socket.IO names it, with its leading ``/``."""
        namespace = self.namespace.strip()
        return namespace if namespace.startswith("/") else "/" + namespace

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work together."""
        found: list[tuple[str, str]] = []
        if not self.url.strip().lower().startswith(("http://", "https://", "ws://", "wss://")):
            found.append(("url", "url must start with http://, https://, ws:// or wss://"))
        if not self.event_name.strip():
            found.append(("event-name", "event-name is required"))
        found += [(f"headers.{name}", "not a valid header name") for name in self.headers if not _TOKEN.match(name)]
        if self.oauth_active:
            found += self.oauth.problems()
        return found
