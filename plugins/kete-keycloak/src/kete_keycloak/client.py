"""A small asynchronous client of Keycloak's token endpoint and Admin REST API (aiohttp).

It authenticates with client credentials (a confidential client with a service account) or, for
the ``kete keycloak`` commands, with a username and password; caches the access token until
shortly before it expires and fetches a new one once when the server answers 401. Failures are
sorted into what retrying may fix (:class:`KeycloakUnreachable`) and what needs a person
(:class:`KeycloakAuthError`, :class:`KeycloakForbidden`, :class:`KeycloakNotFound`), each with a
message that says what to change.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson

from kete_core import TlsSettings, client_ssl_context

# A token is replaced this long before it expires (or at half its lifetime, if that is shorter).
_REFRESH_MARGIN = 15.0
_BODY_SAMPLE = 300

Params = Mapping[str, str | int | Sequence[str]]


class KeycloakError(Exception):
    """Keycloak answered with an error, or could not be reached.

    :ivar status: the HTTP status, or None when no answer came.
    :ivar transient: True when retrying later may succeed without anyone changing anything.
    """

    transient = False

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class KeycloakUnreachable(KeycloakError):
    """No answer (refused connection, timeout) or a server error (5xx, 429): try again later."""

    transient = True


class KeycloakAuthError(KeycloakError):
    """Authentication failed: a wrong client id, secret, username or password, or a disabled grant."""


class KeycloakForbidden(KeycloakError):
    """The account authenticated but lacks a role (HTTP 403)."""


class KeycloakNotFound(KeycloakError):
    """The realm (or another resource) does not exist or is not visible to the account (HTTP 404)."""


class KeycloakBadRequest(KeycloakError):
    """Keycloak refused the request's parameters (HTTP 400)."""


def token_url_for(server: str, realm: str) -> str:
    """The OpenID Connect token endpoint of *realm* on *server*."""
    return f"{server.rstrip('/')}/realms/{urllib.parse.quote(realm, safe='')}/protocol/openid-connect/token"


def _sample(body: bytes) -> str:
    text = body[:_BODY_SAMPLE].decode("utf-8", "replace").strip()
    return text + ("…" if len(body) > _BODY_SAMPLE else "")


def _oauth_error(body: bytes) -> tuple[str, str]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", _sample(body)
    if not isinstance(data, dict):
        return "", _sample(body)
    return str(data.get("error") or ""), str(data.get("error_description") or data.get("errorMessage") or "")


class KeycloakClient:
    """Talks to one Keycloak server as one account.

    :param server: the base URL (``https://keycloak.example``, with any context path such as ``/auth``).
    :param token_url: the token endpoint.
    :param client_id: the OAuth client.
    :param client_secret: its secret (client credentials; also sent with a password grant if given).
    :param username: with *password*: a password grant instead of client credentials.
    :param timeout: seconds for one request.
    :param ssl_context: TLS settings, or None for aiohttp's defaults.
    """

    def __init__(
        self,
        server: str,
        token_url: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        self._username = username
        self._password = password
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._expires = 0.0
        self._token_lock = asyncio.Lock()

    @property
    def account(self) -> str:
        """Who this client acts as, for messages."""
        return f"user '{self._username}'" if self._username else f"client '{self.client_id}'"

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # trust_env=False: a proxy from the environment must not see Keycloak credentials by accident.
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else True)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector, trust_env=False)
        return self._session

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    # ------------------------------------------------------------------ token

    def forget_token(self) -> None:
        """Make the next request fetch a new token."""
        self._token = None
        self._expires = 0.0

    async def token(self) -> str:
        """A valid access token, from the cache or freshly fetched."""
        async with self._token_lock:
            if self._token is not None and time.monotonic() < self._expires:
                return self._token
            form = {"client_id": self.client_id}
            if self._username is not None:
                form |= {"grant_type": "password", "username": self._username, "password": self._password or ""}
            else:
                form["grant_type"] = "client_credentials"
            if self._secret is not None:
                form["client_secret"] = self._secret
            status, body = await self._send("POST", self.token_url, data=form)
            if status != 200:
                raise self._token_failure(status, body)
            try:
                data = orjson.loads(body)
                token = str(data["access_token"])
                lifetime = float(data.get("expires_in") or 60)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise KeycloakError(f"the token endpoint {self.token_url} sent no access token: {exc}") from exc
            self._token = token
            self._expires = time.monotonic() + max(1.0, lifetime - min(_REFRESH_MARGIN, lifetime / 2))
            return token

    def _token_failure(self, status: int, body: bytes) -> KeycloakError:
        error, description = _oauth_error(body)
        said = f"HTTP {status} {error or ''}{': ' + description if description else ''}".strip()
        where = f"(token endpoint {self.token_url} answered {said})"
        if status == 404:
            return KeycloakNotFound(f"no such realm at the token endpoint {where}; check server and the client's realm")
        if status >= 500 or status == 429:
            return KeycloakUnreachable(f"Keycloak cannot issue a token right now {where}", status)
        if error == "invalid_client" or status == 401:
            return KeycloakAuthError(
                f"authentication of {self.account} failed: wrong client id or client secret, or the client does "
                f"not exist in this realm {where}",
                status,
            )
        if error == "unauthorized_client":
            grant = "direct access grants" if self._username else "service accounts"
            return KeycloakAuthError(
                f"{self.account} may not use this grant: enable '{grant}' on the client {where}", status
            )
        if error == "invalid_grant":
            return KeycloakAuthError(f"authentication of {self.account} failed: wrong username or password {where}")
        return KeycloakAuthError(f"Keycloak refused a token to {self.account} {where}", status)

    # ------------------------------------------------------------------ requests

    async def _send(
        self, method: str, url: str, *, token: str | None = None, data: Any = None, json: Any = None
    ) -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        body: bytes | None = None
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        try:
            async with self._http().request(method, url, headers=headers, data=data if body is None else body) as r:
                return r.status, await r.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise KeycloakUnreachable(f"cannot reach Keycloak at {self.server}: {reason}") from exc

    async def request(self, method: str, path: str, *, params: Params | None = None, json: Any = None) -> Any:
        """``<method> <server>/admin/realms<path>`` as this account; the decoded JSON answer (None if empty).

        A 401 is answered by fetching a new token and trying once more.
        """
        url = f"{self.server}/admin/realms{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        for attempt in (1, 2):
            status, body = await self._send(method, url, token=await self.token(), json=json)
            if status == 401 and attempt == 1:
                self.forget_token()
                continue
            break
        if 200 <= status < 300:
            try:
                return orjson.loads(body) if body.strip() else None
            except orjson.JSONDecodeError as exc:
                # A proxy's error page, most likely: worth another try later.
                raise KeycloakUnreachable(
                    f"{method} {url.split('?')[0]} answered with something that is not JSON: {_sample(body)!r}", status
                ) from exc
        said = f"{method} {url.split('?')[0]} answered HTTP {status}"
        detail = _sample(body)
        if detail:
            said += f": {detail}"
        if status == 401:
            raise KeycloakAuthError(f"Keycloak does not accept the token of {self.account} ({said})", status)
        if status == 403:
            raise KeycloakForbidden(f"{self.account} is not allowed to do this ({said})", status)
        if status == 404:
            raise KeycloakNotFound(f"not found ({said})", status)
        if status == 400:
            raise KeycloakBadRequest(f"Keycloak refused the request ({said})", status)
        if status >= 500 or status == 429:
            raise KeycloakUnreachable(f"Keycloak failed to answer ({said})", status)
        raise KeycloakError(f"unexpected answer ({said})", status)

    async def get(self, path: str, params: Params | None = None) -> Any:
        """``GET /admin/realms<path>``."""
        return await self.request("GET", path, params=params)


def realm_path(realm: str, suffix: str = "") -> str:
    """``/<realm><suffix>``, the realm name URL-encoded."""
    return f"/{urllib.parse.quote(realm, safe='')}{suffix}"


def make_ssl_context(verify: bool, ca_file: str | None, path: str = "keycloak") -> ssl.SSLContext | None:
    """The TLS context for Keycloak (kete's TLS facility): None (defaults) unless a CA file is given, which
    is trusted besides the system's CAs, or checks are off.

    :param path: the config path of the settings, for errors (a CA file that cannot be read).
    """
    if verify and not ca_file:
        return None
    return client_ssl_context(TlsSettings(verify=verify, ca_file=ca_file), path)
