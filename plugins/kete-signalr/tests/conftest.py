"""Fixtures of the signalr sink's tests: a SignalR hub on aiohttp (:mod:`kete_signalr.testing`) on
127.0.0.1, sinks, messages, a token endpoint and a PKI."""

from __future__ import annotations

import orjson
import pytest
from kete_signalr.settings import SignalRSinkConfig
from kete_signalr.sink import SignalRSink
from kete_signalr.testing import Hub

from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.builtins.kete_renderer import KeteRenderer
from kete_core.contracts import ComponentConfig, Message, SinkContext
from kete_core.event import parse_event
from kete_core.testing.oauth import TokenEndpoint
from kete_core.tls.testing import Pki


@pytest.fixture
async def start_hub():
    """Start hubs: ``await start_hub(**settings)``; stopped afterwards."""
    hubs: list[Hub] = []

    async def start(**settings) -> Hub:
        hub = await Hub(**settings).start()
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        await hub.stop()


@pytest.fixture
async def hub(start_hub) -> Hub:
    return await start_hub()


@pytest.fixture
async def make_sink():
    """Build signalr sinks from settings (kebab-case keys); every one is closed afterwards."""
    sinks: list[SignalRSink] = []

    def build(**settings) -> SignalRSink:
        context = SinkContext(
            route="r",
            path="routes.r.destination",
            renderer=KeteRenderer(ComponentConfig(), {}),
            serializer=JsonSerializer(ComponentConfig()),
        )
        sink = SignalRSink(SignalRSinkConfig.model_validate(settings), context)
        sinks.append(sink)
        return sink

    yield build
    for sink in sinks:
        await sink.close()


def message(number: int, realm: str = "acme", event_type: str = "LOGIN") -> Message:
    event = parse_event({"id": f"e{number}", "type": event_type, "realmName": realm})
    return Message(event, orjson.dumps(event.to_kete()), "application/json")


@pytest.fixture
def ev():
    """``ev(number, realm="acme", event_type="LOGIN")``: a message with the json serializer's payload."""
    return message


@pytest.fixture
async def token_endpoint():
    endpoint = await TokenEndpoint().start()
    yield endpoint
    await endpoint.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))
