"""What sinks that keep a connection to a web server share (KETE's websocket, socketio and signalr
destinations): the handshake settings (headers, OAuth, TLS, KETE's pool keys), one aiohttp session
applying them, and the rule that turns lost connections into :class:`~kete_core.errors.Unavailable`.

aiohttp is imported only when a session is opened: the core does not depend on it, the sinks do.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from kete_core.contracts import ComponentConfig, DeliveryResults
from kete_core.errors import PermanentError, Unavailable
from kete_core.fields import Lowercase
from kete_core.oauth import OAuthSettings, TokenProvider
from kete_core.tls import TlsSettings, checked_client_ssl

if TYPE_CHECKING:
    import aiohttp

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
T = TypeVar("T")


class ConnectionLost(Exception):
    """The server could not be reached, or the connection closed before the server confirmed what
    was sent: worth sending again on a new connection."""


class HandshakeRefused(Exception):
    """What a sink's opening function raises when the server answered its handshake (or a request
    before it, such as SignalR's negotiate) with an HTTP error *status*; :meth:`HandshakeClient.connect`
    decides what it means."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(f"HTTP {status} {detail}".rstrip())
        self.status = status
        self.detail = detail


class HandshakeSettings(ComponentConfig):
    """KETE's settings of a connection's opening handshake, shared by the web destinations."""

    headers: dict[str, str] = {}
    """Headers of the opening handshake (sent once per connection, not per event)."""
    authentication_type: Annotated[Literal["none", "oauth"] | None, Lowercase] = None
    oauth: OAuthSettings = OAuthSettings()
    """OAuth 2.0 client credentials: the token goes in the handshake's ``Authorization`` header."""
    tls: TlsSettings = TlsSettings()
    pool: dict[str, Any] = {}
    """KETE's ``pool.*``, accepted so KETE configurations load; kete keeps one connection per address."""

    @property
    def oauth_active(self) -> bool:
        """OAuth is in use, as KETE decides."""
        return self.oauth.active(self.authentication_type)

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for the handshake settings that cannot work; a subclass adds its own."""
        found = [(f"headers.{name}", "not a valid header name") for name in self.headers if not is_http_token(name)]
        return found + (self.oauth.problems() if self.oauth_active else [])


def is_http_token(text: str) -> bool:
    """Whether *text* is an HTTP token (a header name, a WebSocket subprotocol)."""
    return bool(_TOKEN.match(text))


class HandshakeClient:
    """A sink's aiohttp session with its TLS context, and the headers of each opening handshake
    (the configured ones, and ``Authorization: Bearer`` with a static or OAuth token).

    :param path: the sink's settings path, for errors; *problems* are checked with the TLS settings
        in one pass (:func:`~kete_core.checked_client_ssl`); *secure*: the target is ``https``/``wss``.
    """

    def __init__(
        self,
        settings: HandshakeSettings,
        path: str,
        problems: Iterable[tuple[str, str]],
        *,
        secure: bool,
        bearer: str | None = None,
    ) -> None:
        self.ssl: ssl.SSLContext | bool = checked_client_ssl(settings.tls, path, problems, secure=secure)
        self._headers = {name: value.strip() for name, value in settings.headers.items() if value.strip()}
        self._oauth = TokenProvider(settings.oauth) if settings.oauth_active else None
        self._bearer = bearer
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The session, opened on first use (and again after :meth:`close`)."""
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.ssl))
        return self._session

    async def connect(self, shown: str, hint: str, open_: Callable[[dict[str, str]], Awaitable[T]]) -> T:
        """Run *open_* with the handshake's headers and return what it opened. A
        :class:`HandshakeRefused` it raises becomes :func:`handshake_refusal`'s error naming
        *shown* (the address) and *hint* (the settings to check), after one more try with a freshly
        fetched token when an OAuth token got a 401. A token endpoint that cannot be reached is a
        :class:`ConnectionLost`, one that refuses the client a :class:`PermanentError`."""
        from kete_core.oauth import TokenError

        for attempt in (1, 2):
            headers = dict(self._headers)
            token = self._bearer
            if self._oauth is not None:
                try:
                    token = await self._oauth.token(self.session())
                except TokenError as exc:
                    raise ConnectionLost(f"{shown}: {exc}") from exc
            if token:
                headers["Authorization"] = f"Bearer {token}"
            try:
                return await open_(headers)
            except HandshakeRefused as exc:
                stale = exc.status == 401 and token is not None and self._oauth is not None
                if stale and attempt == 1:
                    assert self._oauth is not None and token is not None
                    self._oauth.invalidate(token)
                    continue
                error = handshake_refusal(shown, exc.status, exc.detail, hint)
                if stale:
                    error = PermanentError(f"{error} (also with a freshly fetched OAuth token)")
                raise error from None
        raise AssertionError("not reached")

    async def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def handshake_refusal(shown: str, status: int, detail: str, hint: str) -> Exception:
    """What a handshake answered with *status* means: 401 or 403 a :class:`PermanentError` naming
    *hint* (the settings to check), another 4xx a :class:`PermanentError`, anything else (5xx,
    408, 429) :class:`ConnectionLost`."""
    text = f"{shown}: the server refused the connection: HTTP {status} {detail}".rstrip()
    if status in (401, 403):
        return PermanentError(f"{text} (check {hint})")
    if 400 <= status < 500 and status not in (408, 429):
        return PermanentError(text)
    return ConnectionLost(text)


def connection_outcome(results: Sequence[BaseException | None]) -> DeliveryResults:
    """A batch's :data:`~kete_core.DeliveryResults`: None when every event got through; raises
    :class:`~kete_core.errors.Unavailable` when none did because the server is out of reach (every
    failure a :class:`ConnectionLost` or a :class:`PermanentError`, at least one of them lost), so
    kete waits without spending the events' attempts; else the results."""
    if not any(results):
        return None
    lost = [error for error in results if isinstance(error, ConnectionLost)]
    if lost and all(isinstance(error, ConnectionLost | PermanentError) for error in results):
        raise Unavailable(str(lost[0]))
    return results
