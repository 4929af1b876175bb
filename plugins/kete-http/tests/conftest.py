"""Real servers on 127.0.0.1 for the HTTP plugin's tests: a recording receiver, more token endpoints (the
``token_endpoint`` is ``tests/services/oauth_fixtures.py``'s) and a PKI."""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import aiohttp
import orjson
import pytest
from aiohttp import web
from kete_http.settings import HttpSinkConfig, HttpSourceConfig
from kete_http.sink import HttpSink
from kete_http.source import HttpSource
from multidict import CIMultiDict

from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.builtins.kete_renderer import KeteRenderer
from kete_core.contracts import ComponentConfig, Message, Receipt, SinkContext
from kete_core.event import parse_event
from kete_core.testing import started_servers
from kete_core.testing.oauth import TokenEndpoint
from kete_core.tls.testing import Pki


@dataclass
class Recorded:
    method: str
    path: str
    headers: CIMultiDict
    body: bytes
    peer_cert: dict | None = None
    raw_path: str = ""
    """The request target exactly as it arrived."""

    def json(self):
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """An aiohttp server that records every request and answers from a script (default 204)."""

    requests: list[Recorded] = field(default_factory=list)
    script: deque = field(default_factory=deque)
    in_flight: int = 0
    max_in_flight: int = 0
    delay: float = 0.0
    decide: Callable[[Recorded], object] | None = None
    """Chooses the answer to a request (None: the script's next answer)."""
    gate: asyncio.Event | None = None
    """When set up, every request waits for it before it is answered: a slow, not failed, destination."""
    runner: web.AppRunner | None = None
    url: str = ""

    async def start(self, ssl_context: ssl.SSLContext | None = None, path: str = "/{tail:.*}") -> Receiver:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", path, self._handle)
        # The wire bytes are what the tests check (signatures cover the compressed body).
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2, auto_decompress=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def fail(self, *answers) -> None:
        """Queue answers for the next requests: a status, (status, headers) or ("sleep", seconds)."""
        self.script.extend(answers)

    async def _handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = await request.read()
            transport = request.transport
            peer = transport.get_extra_info("peercert") if transport is not None else None
            recorded = Recorded(
                request.method, request.path_qs, CIMultiDict(request.headers), body, peer, request.raw_path
            )
            self.requests.append(recorded)
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.gate is not None:
                await self.gate.wait()
            answer = self.decide(recorded) if self.decide is not None else None
            if answer is None:
                answer = self.script.popleft() if self.script else 204
            if isinstance(answer, tuple) and answer[0] == "sleep":
                await asyncio.sleep(answer[1])
                answer = 204
            status, headers = answer if isinstance(answer, tuple) else (answer, {})
            return web.Response(status=status, headers=headers, text="" if status == 204 else f"answer {status}")
        finally:
            self.in_flight -= 1


@pytest.fixture
async def start_receiver():
    """Start receivers: ``await start_receiver(ssl_context=None)``; stopped afterwards."""

    def start(ssl_context: ssl.SSLContext | None = None) -> Awaitable[Receiver]:
        return Receiver().start(ssl_context)

    async with started_servers(start) as starting:
        yield starting


@pytest.fixture
async def receiver(start_receiver):
    return await start_receiver()


@pytest.fixture
async def new_token_endpoint():
    """Start more token endpoints: ``await new_token_endpoint(path, **settings)``; stopped afterwards."""

    def start(path: str = "/token", **settings) -> Awaitable[TokenEndpoint]:
        return TokenEndpoint(**settings).start(path)

    async with started_servers(start) as starting:
        yield starting


def _sink_context(path: str = "routes.r.destination") -> SinkContext:
    return SinkContext(
        route="r",
        path=path,
        renderer=KeteRenderer(ComponentConfig(), {}),
        serializer=JsonSerializer(ComponentConfig()),
    )


@pytest.fixture
async def make_sink():
    """Build sinks from settings (kebab-case keys, as in a config file); every one is closed afterwards."""
    sinks: list[HttpSink] = []

    def build(**settings) -> HttpSink:
        sink = HttpSink(HttpSinkConfig.model_validate(settings), _sink_context())
        sinks.append(sink)
        return sink

    yield build
    for sink in sinks:
        await sink.close()


def message(event_type: str = "LOGIN", realm: str = "acme", **fields) -> Message:
    event = parse_event({"type": event_type, "realmName": realm, **fields})
    return Message(event, orjson.dumps(event.to_kete()), "application/json")


def admin_message(resource: str = "USER", operation: str = "CREATE", realm: str = "acme", **fields) -> Message:
    event = parse_event({"resourceType": resource, "operationType": operation, "realmName": realm, **fields})
    return Message(event, orjson.dumps(event.to_kete()), "application/json")


@pytest.fixture
def ev():
    """Builders: ``ev.user(type, realm, **fields)``, ``ev.admin(resource, operation, realm, **fields)`` give
    messages with the json serializer's payload; ``ev.context()`` a sink context."""
    return SimpleNamespace(user=message, admin=admin_message, context=_sink_context)


# --------------------------------------------------------------------------- the http source


class RecordingIntake:
    """A kete intake that records what a source submits; ``gate`` holds submissions back, ``busy`` is
    what ``congested`` answers."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.batches: list[list] = []
        self.rejections: list = []
        self.busy = False
        self.gate: asyncio.Event | None = None
        self.ready: tuple[bool, str | None] | None = None

    @property
    def congested(self) -> bool:
        return self.busy

    async def submit(self, events):
        if self.gate is not None:
            await self.gate.wait()
        self.batches.append(list(events))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return Receipt(done)

    def reject(self, rejection) -> None:
        self.rejections.append(rejection)

    def set_ready(self, ready: bool, reason: str | None = None) -> None:
        self.ready = (ready, reason)

    @property
    def events(self):
        return [event for batch in self.batches for event in batch]


@pytest.fixture
def intake() -> RecordingIntake:
    return RecordingIntake()


class Webhook:
    def __init__(self, source: HttpSource, intake: RecordingIntake, task: asyncio.Task, client: aiohttp.ClientSession):
        self.source, self.intake, self.task, self.client = source, intake, task, client
        scheme = "https" if source.config.tls.enabled else "http"
        self.url = f"{scheme}://127.0.0.1:{source.port}{source.config.path}"

    async def post(self, body, *, headers=None, raw: bool = False, **options):
        data = body if raw else orjson.dumps(body)
        headers = {"Content-Type": "application/json", **(headers or {})}
        async with self.client.post(self.url, data=data, headers=headers, **options) as response:
            return response.status, await response.json(), response.headers

    async def stop(self) -> None:
        await self.client.close()
        self.intake.stopping.set()
        await asyncio.wait_for(self.task, 5)
        await self.source.close()


@pytest.fixture
async def webhook():
    """Start an http source on a free port: ``await webhook(client_ssl=None, **settings)`` gives a
    :class:`Webhook` with a client session (using *client_ssl* for HTTPS); all are stopped afterwards."""

    async def start(client_ssl: ssl.SSLContext | None = None, **settings) -> Webhook:
        # No drain by default: stopping a test's source closes it at once (the drain has its own tests).
        source = HttpSource("hook", HttpSourceConfig.model_validate({"port": 0, "drain-time": 0, **settings}))
        intake = RecordingIntake()
        task = asyncio.create_task(source.run(intake))
        await asyncio.wait_for(source.listening.wait(), 5)
        client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl if client_ssl else True))
        return Webhook(source, intake, task, client)

    async with started_servers(start) as starting:
        yield starting


# --------------------------------------------------------------------------- a PKI made for the test session


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    """kete's test CA with a server certificate for 127.0.0.1/localhost and a client certificate."""
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory) -> Pki:
    """A second, unrelated CA."""
    return Pki(tmp_path_factory.mktemp("other-pki"))
