"""Settings of the ``signalr`` sink: KETE's keys, plus OAuth and TLS from kete-core."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr

from kete_core import ComponentConfig, Duration, Lowercase, OAuthSettings, TlsSettings

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class SignalRSinkConfig(ComponentConfig):
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
    headers: dict[str, str] = {}
    """Extra headers of the negotiate request and the WebSocket handshake."""
    authentication_type: Annotated[Literal["none", "oauth"] | None, Lowercase] = None
    oauth: OAuthSettings = OAuthSettings()
    """OAuth 2.0 client credentials: the token is the connection's bearer token."""
    tls: TlsSettings = TlsSettings()
    pool: dict[str, Any] = {}
    """KETE's ``pool.*``, accepted so KETE configurations load; kete keeps one connection."""

    @property
    def oauth_active(self) -> bool:
        """OAuth is in use, as KETE decides."""
        return self.oauth.active(self.authentication_type)

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work together."""
        found: list[tuple[str, str]] = []
        if not self.url.strip().lower().startswith(("http://", "https://")):
            found.append(("url", "url must start with http:// or https://"))
        if not self.hub_method.strip():
            found.append(("hub-method", "hub-method must not be blank"))
        found += [(f"headers.{name}", "not a valid header name") for name in self.headers if not _TOKEN.match(name)]
        if self.oauth_active:
            found += self.oauth.problems()
        return found
