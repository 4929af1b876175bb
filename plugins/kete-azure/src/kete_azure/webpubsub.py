"""``destination.kind = "azure-webpubsub"``: each event is one send of the Web PubSub REST API, to every
connection of the hub (``POST /api/hubs/<hub>/:send``) or to a group (``.../groups/<group>/:send``), as
KETE's SDK calls make it; see the README.

The hub and the group are templates; a group that renders blank sends to the whole hub, as KETE. Each
request carries a JWT signed (HS256) with the connection string's ``AccessKey`` whose audience is the
request's URL, as the service checks it; or, with ``authentication-type`` ``managed-identity`` or
``default-azure-credential``, a Microsoft Entra token for ``https://webpubsub.azure.com`` (fetched at
start, reused until shortly before it expires; no token is reported at start and makes the batch wait).
The body is the payload after ``content-encoding`` and ``content-transfer-encoding``, sent as
``application/json`` when it is unencoded JSON and as ``text/plain`` otherwise (a payload that is not
UTF-8 text fails alone, naming ``content-transfer-encoding``). Refused credentials (401/403) or a
service out of reach make the batch raise :class:`~kete_core.Unavailable`; a send refused for its content
(another 4xx) fails that event permanently; 408/429/5xx fail it for a retry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Sequence
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from kete_azure.credentials import BearerToken, TokenUnavailable, token_credential
from kete_azure.settings import WebPubSubSinkConfig
from kete_azure.transport import client_session
from kete_core import (
    ConnectionLost,
    DeliveryResults,
    Message,
    PermanentError,
    RenderError,
    Sink,
    SinkContext,
    checked_client_ssl,
    connection_outcome,
    redact,
)

log = logging.getLogger("kete.azure")

API_VERSION = "2024-01-01"
"""The REST API version of the service's send operations (the vendor SDKs' current one)."""
TOKEN_SECONDS = 3600
"""How long a request's JWT is valid, as the vendor SDKs sign it."""
SCOPE = "https://webpubsub.azure.com/.default"
"""The token scope of Web PubSub's data plane (the vendor SDKs')."""


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_token(url: str, key: str, now: float) -> str:
    """The JWT the service accepts for a request to *url*: HS256 with the access key, audience *url*."""
    header = _base64url(b'{"alg":"HS256","typ":"JWT"}')
    claims = _base64url(orjson.dumps({"aud": url, "iat": int(now), "exp": int(now) + TOKEN_SECONDS}))
    signature = hmac.new(key.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{_base64url(signature)}"


class WebPubSubSink(Sink):
    """Sends each event to a Web PubSub hub or group; see the module documentation."""

    Config = WebPubSubSinkConfig
    config: WebPubSubSinkConfig

    def __init__(self, config: WebPubSubSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        problems = config.problems()
        service = config.service() if not problems else None
        secure = service is not None and service.endpoint.lower().startswith("https://")
        self._ssl = checked_client_ssl(config.tls, context.path, problems, secure=secure)
        assert service is not None  # checked_client_ssl raised on any problem
        self._endpoint = service.endpoint
        self._key = service.access_key
        self._shown = redact(self._endpoint)
        self.hub = context.address("hub", config.hub.strip())
        group = config.group.strip()
        self.group = context.address("group", group) if group else None
        self._session: aiohttp.ClientSession | None = None
        self._tokens: BearerToken | None = None
        self._hint = "check " + config.credentials_hint("the connection string's AccessKey")

    async def _authorization(self, url: URL) -> str:
        if self._key is not None:
            return f"Bearer {access_token(str(url), self._key, time.time())}"
        if self._tokens is None:
            self._tokens = BearerToken(token_credential(self.config, self.config.timeout_seconds), SCOPE)
        return await self._tokens.header()

    async def start(self) -> None:
        """With token authentication, gets the first token: an identity that gives none is reported here."""
        if self._key is None:
            try:
                await self._authorization(URL(self._endpoint))
            except TokenUnavailable as exc:
                await self.close()  # kete may never call close() on a sink that did not start
                raise ConnectionLost(redact(f"{self._shown}: {exc.message}")) from None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = client_session(self._ssl)
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        tokens, self._tokens = self._tokens, None
        if session is not None:
            await session.close()
        if tokens is not None:
            await tokens.credential.close()

    def _body(self, message: Message) -> tuple[bytes, str]:
        encoding = self.config.encoding
        body = encoding.encode(message.payload)
        body.decode()  # the SDK sends a string: a payload that is not text cannot be sent
        json = encoding.identity and "json" in message.content_type
        return body, "application/json" if json else "text/plain"

    def url(self, hub: str, group: str) -> URL:
        """The send operation's URL for *hub* and (if not blank) *group*."""
        path = f"/api/hubs/{quote(hub, safe='')}"
        if group:
            path += f"/groups/{quote(group, safe='')}"
        return URL(f"{self._endpoint}{path}/:send?api-version={API_VERSION}", encoded=True)

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        events = [message.event for message in messages]
        hubs = self.hub.render_all(events)
        groups = self.group.render_all(events) if self.group else [""] * len(events)
        results: list[BaseException | None] = [None] * len(messages)
        for index, (message, hub, group) in enumerate(zip(messages, hubs, groups, strict=True)):
            unresolved = [rendered for rendered in (hub, group) if isinstance(rendered, RenderError)]
            if unresolved:
                results[index] = unresolved[0]
                continue
            try:
                body, content_type = self._body(message)
            except UnicodeDecodeError:
                results[index] = PermanentError(
                    f"{message.event!r}: the payload is not text; set content-transfer-encoding = base64"
                )
                continue
            results[index] = outcome = await self._send(self.url(str(hub), str(group).strip()), body, content_type)
            if isinstance(outcome, ConnectionLost):  # the rest would meet the same
                for later in range(index + 1, len(messages)):
                    results[later] = outcome
                break
        return connection_outcome(results)

    async def _send(self, url: URL, body: bytes, content_type: str) -> BaseException | None:
        try:
            headers = {"Authorization": await self._authorization(url), "Content-Type": content_type}
        except TokenUnavailable as exc:
            return ConnectionLost(redact(f"{self._shown}: {exc.message}"))
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
        try:
            async with self._client().post(url, data=body, headers=headers, timeout=timeout) as response:
                if response.status < 300:
                    return None
                detail = (await response.text())[:200]
        except (TimeoutError, aiohttp.ClientError) as exc:
            return ConnectionLost(redact(f"{self._shown}: {exc or type(exc).__name__}"))
        text = redact(f"{self._shown}: Web PubSub answered {response.status} {detail}".rstrip())
        if response.status in (401, 403):
            return ConnectionLost(f"{text} ({self._hint})")
        if 400 <= response.status < 500 and response.status not in (408, 429):
            return PermanentError(text)
        return RuntimeError(text)
