"""OAuth 2.0 client credentials for sinks, with KETE's ``oauth.*`` settings and token caching.

KETE's http, soap, websocket, socketio and signalr destinations share these settings. A token is
fetched on first use, cached, and fetched again 30 seconds before it expires (a response without
``expires_in`` counts as one hour, as in KETE). A destination that refuses a token has it
invalidated, so that the next attempt fetches a fresh one. The token request goes through the
caller's aiohttp session (aiohttp is imported only then: the core does not depend on it).
"""

from __future__ import annotations

import asyncio
import base64
from typing import TYPE_CHECKING, Annotated, Literal

import orjson
from pydantic import Field, SecretStr

from kete_core.contracts import ComponentConfig
from kete_core.errors import PermanentError
from kete_core.fields import Duration, Lowercase

if TYPE_CHECKING:
    import aiohttp

DEFAULT_KEYCLOAK_URL = "http://localhost:8080"
DEFAULT_INTERNAL_CLIENT_ID = "kete-oauth-client"
REFRESH_MARGIN = 30.0
DEFAULT_LIFETIME = 3600.0


def basic_authorization(username: str, password: str) -> str:
    """The ``Authorization`` value of HTTP Basic authentication (RFC 7617, UTF-8)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class OAuthSettings(ComponentConfig):
    """``destination.oauth.*``: KETE's OAuth settings plus ``keycloak-url`` and ``client-authentication``.

    ``mode = "external"`` (default) needs ``token-url``, ``client-id`` and ``client-secret``;
    ``mode = "internal"`` derives the token URL from ``keycloak-url`` and ``realm``
    (``<keycloak-url>/realms/<realm>/protocol/openid-connect/token``) and defaults the client id
    to ``kete-oauth-client``.
    """

    enabled: bool | None = None
    mode: Annotated[Literal["external", "internal"], Lowercase] = "external"
    token_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str | None = None
    timeout_seconds: Duration = 10.0
    realm: str | None = None
    keycloak_url: str = DEFAULT_KEYCLOAK_URL
    client_authentication: Annotated[Literal["basic", "post"], Lowercase] = "basic"
    """``basic``: HTTP Basic with the client id and secret (KETE's ``client_secret_basic``);
    ``post``: both in the form body (``client_secret_post``)."""
    refresh_margin: Duration = Field(default=REFRESH_MARGIN)
    """How long before expiry a cached token is replaced."""

    def active(self, authentication_type: str | None) -> bool:
        """Whether OAuth is in use, as KETE decides: ``authentication-type = "oauth"`` (unless
        ``oauth.enabled = false``), or the older form with only ``oauth.enabled = true``."""
        if authentication_type == "oauth":
            return self.enabled is not False
        return authentication_type is None and self.enabled is True

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for what the token request lacks; checked only when OAuth is in use."""
        missing = ["realm"] if self.mode == "internal" and not self.realm else []
        if self.mode == "external":
            missing += [name for name in ("token_url", "client_id") if not getattr(self, name)]
        if self.client_secret is None:
            # kete runs outside Keycloak, so it cannot create the client the way KETE's internal mode did.
            missing.append("client_secret")
        found = []
        for name in missing:
            setting = f"oauth.{name.replace('_', '-')}"
            found.append((setting, f"{setting} is required with oauth.mode = '{self.mode}'"))
        return found

    @property
    def resolved_token_url(self) -> str:
        """The token endpoint for this mode."""
        if self.mode == "internal":
            return f"{self.keycloak_url.rstrip('/')}/realms/{self.realm}/protocol/openid-connect/token"
        assert self.token_url is not None
        return self.token_url

    @property
    def resolved_client_id(self) -> str:
        """The client id for this mode."""
        return self.client_id or DEFAULT_INTERNAL_CLIENT_ID


class TokenError(Exception):
    """The token endpoint could not be reached or answered with a server error; worth retrying."""


class TokenProvider:
    """Fetches, caches and refreshes one client-credentials access token."""

    def __init__(self, settings: OAuthSettings) -> None:
        self.settings = settings
        self.url = settings.resolved_token_url
        self.fetches = 0
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def _valid(self) -> str | None:
        if self._token is not None and asyncio.get_running_loop().time() < self._expires_at:
            return self._token
        return None

    async def token(self, session: aiohttp.ClientSession) -> str:
        """A valid access token, fetched when none is cached or the cached one is about to expire."""
        token = self._valid()
        if token is not None:
            return token
        async with self._lock:
            token = self._valid()
            if token is None:
                token = await self._fetch(session)
            return token

    def invalidate(self, token: str) -> None:
        """Forget *token* (the destination refused it) unless a newer one already replaced it."""
        if self._token == token:
            self._token = None

    async def _fetch(self, session: aiohttp.ClientSession) -> str:
        import aiohttp

        settings = self.settings
        secret = settings.client_secret.get_secret_value() if settings.client_secret else ""
        form = {"grant_type": "client_credentials"}
        if settings.scope:
            form["scope"] = settings.scope
        headers = {"Accept": "application/json"}
        if settings.client_authentication == "basic":
            headers["Authorization"] = basic_authorization(settings.resolved_client_id, secret)
        else:
            form |= {"client_id": settings.resolved_client_id, "client_secret": secret}
        timeout = aiohttp.ClientTimeout(total=settings.timeout_seconds)
        try:
            async with session.post(self.url, data=form, timeout=timeout, headers=headers) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TokenError(f"OAuth token endpoint {self.url}: {type(exc).__name__}: {exc}") from exc
        self.fetches += 1
        if status != 200:
            message = f"OAuth token endpoint {self.url} answered HTTP {status}: {body[:200].decode(errors='replace')}"
            if 400 <= status < 500 and status not in (408, 429):
                raise PermanentError(message)
            raise TokenError(message)
        try:
            payload = orjson.loads(body)
            token = payload["access_token"]
            lifetime = float(payload.get("expires_in") or DEFAULT_LIFETIME)
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise PermanentError(f"OAuth token endpoint {self.url} sent no usable access_token: {exc}") from exc
        if not isinstance(token, str) or not token:
            raise PermanentError(f"OAuth token endpoint {self.url} sent no usable access_token")
        margin = min(settings.refresh_margin, lifetime / 2)
        self._token = token
        self._expires_at = asyncio.get_running_loop().time() + lifetime - margin
        return token
