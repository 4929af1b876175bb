"""Settings of the ``signalr`` sink: KETE's keys; the handshake's (headers, OAuth, TLS) come from
kete-core's :class:`~kete_core.HandshakeSettings`."""

from __future__ import annotations

from pydantic import Field, SecretStr

from kete_core import Duration, HandshakeSettings


class SignalRSinkConfig(HandshakeSettings):
    """``destination.*`` of ``kind = "signalr"``."""

    url: str
    """The hub's URL (``https://host/hubs/events``); ``https`` turns TLS on."""
    hub_method: str = "SendEvent"
    """The hub method invoked with each event's payload (one string argument), a template."""
    timeout_seconds: Duration = Field(default=10.0, gt=0)
    """Time to negotiate, connect and finish the handshake, and for the hub to complete a batch."""
    access_token: SecretStr | None = None
    """A bearer token for the negotiate request and the connection (when OAuth is not used)."""
    keep_alive_seconds: Duration = Field(default=15.0, gt=0)
    """How often an idle connection sends the hub protocol's ping (the hub drops a client silent
    for its ``ClientTimeoutInterval``, 30 s by default)."""

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work together."""
        found: list[tuple[str, str]] = []
        if not self.url.strip().lower().startswith(("http://", "https://")):
            found.append(("url", "url must start with http:// or https://"))
        if not self.hub_method.strip():
            found.append(("hub-method", "hub-method must not be blank"))
        return found + super().problems()
