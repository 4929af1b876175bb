"""Settings of the ``websocket`` sink: KETE's keys; the handshake's (headers, OAuth, TLS) come from
kete-core's :class:`~kete_core.HandshakeSettings`."""

from __future__ import annotations

from pydantic import Field

from kete_core import CommaList, Duration, HandshakeSettings, is_http_token


class WebSocketSinkConfig(HandshakeSettings):
    """``destination.*`` of ``kind = "websocket"``."""

    url: str | None = None
    """``ws://`` or ``wss://`` URL, a template (``${realmLowerCase}`` …); ``wss`` turns TLS on."""
    host: str | None = None
    """Instead of ``url``: host, ``port`` and ``path`` (KETE's form); ``wss`` when ``tls.enabled``."""
    port: int | None = Field(default=None, gt=0, lt=65536)
    path: str = "/"
    binary_mode: bool = False
    """Send binary frames instead of text frames."""
    subprotocol: CommaList = []
    """Subprotocols offered in the handshake (``Sec-WebSocket-Protocol``), comma-separated."""
    connection_timeout_seconds: Duration = Field(default=10.0, gt=0)
    """Time to connect and complete the handshake, and for the server to confirm a batch."""
    connection_lost_timeout_seconds: Duration = Field(default=60.0, ge=0)
    """Ping an idle connection this often and drop it when no pong comes back in as long; 0: never."""

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work together."""
        found: list[tuple[str, str]] = []
        if not self.url and not self.host:
            found.append(("url", "set 'url' (ws:// or wss://) or 'host' (with 'port' and 'path')"))
        elif self.url and not self.url.strip().lower().startswith(("ws://", "wss://")):
            found.append(("url", "url must start with 'ws://' or 'wss://'"))
        found += super().problems()
        found += [("subprotocol", f"not a valid subprotocol: {p!r}") for p in self.subprotocol if not is_http_token(p)]
        return found

    def target(self) -> str:
        """The URL template: ``url``, or one built from ``host``/``port``/``path`` as KETE builds it."""
        if self.url:
            return self.url.strip()
        scheme = "wss" if self.tls.enabled else "ws"
        port = self.port or (443 if self.tls.enabled else 80)
        path = self.path.strip() if self.path.strip().startswith("/") else "/" + self.path.strip()
        return f"{scheme}://{self.host}:{port}{path}"
