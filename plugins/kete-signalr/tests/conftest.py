"""Fixtures of the signalr sink's tests: a SignalR hub on aiohttp (:mod:`kete_signalr.testing`) on
127.0.0.1, sinks and messages (the token endpoint is ``tests/services/oauth_fixtures.py``'s)."""

from __future__ import annotations

import pytest
from kete_signalr.testing import Hub

from kete_core.testing import json_message, sink_builder, started_servers


@pytest.fixture
async def start_hub():
    """Start hubs: ``await start_hub(**settings)``; stopped afterwards."""
    async with started_servers(lambda **settings: Hub(**settings).start()) as start:
        yield start


@pytest.fixture
async def hub(start_hub) -> Hub:
    return await start_hub()


@pytest.fixture
async def make_sink():
    """Build signalr sinks: ``make_sink(**settings)`` (kebab-case keys); every one is closed afterwards."""
    async with sink_builder("signalr") as build:
        yield build


@pytest.fixture
def ev():
    """``ev(number, realm="acme", event_type="LOGIN")``: a user event as the json serializer's message."""
    return json_message
