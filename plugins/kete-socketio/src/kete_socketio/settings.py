"""Settings of the ``socketio`` sink: KETE's keys; the handshake's (headers, OAuth, TLS) come from
kete-core's :class:`~kete_core.HandshakeSettings`."""

from __future__ import annotations

from pydantic import Field

from kete_core import Duration, HandshakeSettings


class SocketIoSinkConfig(HandshakeSettings):
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
        return found + super().problems()
