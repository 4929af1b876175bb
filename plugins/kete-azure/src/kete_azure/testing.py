"""A test Event Grid topic on aiohttp (127.0.0.1, a free port) that checks each publish as Event
Grid does: the ``aeg-sas-key`` header against its key (401 otherwise), ``Content-Type:
application/json``, a JSON array of Event Grid schema events, each with ``id``, ``subject``,
``eventType``, ``eventTime``, ``dataVersion`` and ``data`` (400 otherwise), at most 1 MB (413)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

_REQUIRED = ("id", "subject", "eventType", "eventTime", "dataVersion", "data")
_MAX_BYTES = 1024 * 1024


@dataclass
class EventGridTopic:
    """An Event Grid topic: ``url`` to publish to, ``events`` it accepted, ``publishes`` the count of
    accepted publishes."""

    key: str = "topic-key"
    events: list[dict[str, Any]] = field(default_factory=list)
    publishes: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/events"

    def ids(self) -> list[str]:
        """The ``id`` of each accepted event's Keycloak event (its ``data``)."""
        return [event["data"]["id"] for event in self.events if isinstance(event.get("data"), dict)]

    async def _publish(self, request: web.Request) -> web.Response:
        if request.headers.get("aeg-sas-key") != self.key:
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
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
