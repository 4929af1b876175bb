"""Test servers on aiohttp (127.0.0.1, a free port) checking requests as the services do.

``EventGridTopic`` checks each publish as Event Grid does: the ``aeg-sas-key`` header against its key
(401 otherwise), ``Content-Type: application/json``, a JSON array of Event Grid schema events, each
with ``id``, ``subject``, ``eventType``, ``eventTime``, ``dataVersion`` and ``data`` (400 otherwise),
at most 1 MB (413).
``WebPubSubService`` checks each REST send as Web PubSub does (JWT, api-version, content type).
Given an ``identity`` (:class:`~kete_azure.testing.identity.IdentityEndpoint`), both also take its
``Authorization: Bearer`` tokens for their audience, as the services take Microsoft Entra tokens; given
``tls`` (a server SSL context), they serve HTTPS, as token authentication needs.
:mod:`kete_azure.testing.amqp` is an AMQP 1.0 peer behaving as Event Hubs and Service Bus towards senders."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from kete_azure.testing import serving
from kete_azure.testing.identity import EVENT_GRID, WEB_PUBSUB, IdentityEndpoint

_REQUIRED = ("id", "subject", "eventType", "eventTime", "dataVersion", "data")
_MAX_BYTES = 1024 * 1024
# Web PubSub's generally available data-plane REST versions (Java SDK 1.x: 2024-01-01, Python SDK 1.3: 2024-12-01).
_WEBPUBSUB_API_VERSIONS = frozenset({"2021-10-01", "2022-11-01", "2023-07-01", "2024-01-01", "2024-12-01"})


@dataclass
class EventGridTopic:
    """An Event Grid topic: ``url`` to publish to, ``events`` it accepted, ``publishes`` the count of
    accepted publishes."""

    key: str = "topic-key"
    identity: IdentityEndpoint | None = None
    tls: ssl.SSLContext | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    publishes: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/api/events"

    def _authorized(self, request: web.Request) -> bool:
        if request.headers.get("aeg-sas-key") == self.key:
            return True
        identity = self.identity
        return identity is not None and identity.verify(request.headers.get("Authorization"), EVENT_GRID) is not None

    def ids(self) -> list[str]:
        """The ``id`` of each accepted event's Keycloak event (its ``data``)."""
        return [event["data"]["id"] for event in self.events if isinstance(event.get("data"), dict)]

    async def _publish(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        if request.content_type != "application/json":
            return web.json_response({"error": {"code": "BadRequest", "message": "content type"}}, status=400)
        body = await request.read()
        if len(body) > _MAX_BYTES:
            return web.json_response({"error": {"code": "RequestEntityTooLarge"}}, status=413)
        try:
            events = orjson.loads(body)
        except orjson.JSONDecodeError:
            return web.json_response({"error": {"code": "BadRequest", "message": "not JSON"}}, status=400)
        if not isinstance(events, list) or not all(
            isinstance(event, dict) and all(name in event for name in _REQUIRED) for event in events
        ):
            return web.json_response({"error": {"code": "BadRequest", "message": "schema"}}, status=400)
        self.events.extend(events)
        self.publishes += 1
        return web.Response(status=200)

    async def start(self) -> EventGridTopic:
        app = web.Application(client_max_size=2 * _MAX_BYTES)
        app.router.add_post("/api/events", self._publish)
        self.port, self._runner = await serving.serve(app, self.port, self.tls)
        return self

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        await serving.stop(runner)


@dataclass
class WebPubSubService:
    """A Web PubSub service's REST send operations (to a hub, to a group of it), checked as the service
    does: ``api-version``, a ``Bearer`` JWT signed (HS256) with ``key`` whose ``aud`` is the request's URL
    (as sent, percent-encoded) and whose ``exp`` is to come (401 otherwise), ``Content-Type``
    ``application/json`` (a JSON body) or ``text/plain`` (400 otherwise). ``messages`` holds what it accepted."""

    key: str = "d2VicHVic3ViLWtleQ=="
    identity: IdentityEndpoint | None = None
    tls: ssl.SSLContext | None = None
    messages: list[SentMessage] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def endpoint(self) -> str:
        """The service's endpoint (KETE's ``endpoint`` setting for token authentication)."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def connection_string(self) -> str:
        """The service's connection string, as the Azure portal shows it (with ``Port``)."""
        return (
            f"Endpoint={'https' if self.tls else 'http'}://127.0.0.1;Port={self.port};AccessKey={self.key};Version=1.0;"
        )

    def ids(self) -> list[str]:
        """The ``id`` of each accepted JSON message's Keycloak event."""
        return [orjson.loads(message.body)["id"] for message in self.messages if message.json]

    def _authorized(self, request: web.Request) -> bool:
        identity = self.identity
        if identity is not None and identity.verify(request.headers.get("Authorization"), WEB_PUBSUB) is not None:
            return True
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        parts = token.split(".")
        if scheme != "Bearer" or len(parts) != 3:
            return False
        header, claims, signature = parts
        expected = hmac.new(self.key.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), expected):
                return False
            fields = orjson.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
            algorithm = orjson.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))).get("alg")
        except (ValueError, orjson.JSONDecodeError):
            return False
        return bool(
            algorithm == "HS256"
            and fields.get("aud") == f"{request.scheme}://{request.host}{request.raw_path}"
            and fields.get("exp", 0) > time.time()
        )

    async def _send(self, request: web.Request) -> web.Response:
        if request.query.get("api-version") not in _WEBPUBSUB_API_VERSIONS:
            return web.json_response({"code": "InvalidApiVersion"}, status=400)
        if not self._authorized(request):
            return web.json_response({"code": "Unauthorized"}, status=401)
        body = await request.read()
        if request.content_type == "application/json":
            try:
                orjson.loads(body)
            except orjson.JSONDecodeError:
                return web.json_response({"code": "BadRequest", "message": "not JSON"}, status=400)
        elif request.content_type != "text/plain":
            return web.json_response({"code": "BadRequest", "message": "content type"}, status=400)
        hub, group = request.match_info["hub"], request.match_info.get("group")
        self.messages.append(SentMessage(hub, group, request.content_type, body))
        return web.Response(status=202)

    async def start(self) -> WebPubSubService:
        app = web.Application()
        app.router.add_post("/api/hubs/{hub}/:send", self._send)
        app.router.add_post("/api/hubs/{hub}/groups/{group}/:send", self._send)
        self.port, self._runner = await serving.serve(app, self.port, self.tls)
        return self

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        await serving.stop(runner)


@dataclass(frozen=True)
class SentMessage:
    """A message the Web PubSub service accepted: its hub, group (None: the whole hub), content type, body."""

    hub: str
    group: str | None
    content_type: str
    body: bytes

    @property
    def json(self) -> bool:
        return self.content_type == "application/json"
