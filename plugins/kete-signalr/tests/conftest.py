"""Fixtures of the signalr sink's tests: a SignalR hub on aiohttp (:mod:`kete_signalr.testing`) on
127.0.0.1, sinks and messages (the token endpoint is ``tests/services/oauth_fixtures.py``'s)."""

from __future__ import annotations

import pytest
from kete_signalr.testing import Hub

from kete_core.testing import started_servers


@pytest.fixture
async def start_hub():
    """Start hubs: ``await start_hub(**settings)``; stopped afterwards."""
    async with started_servers(lambda **settings: Hub(**settings).start()) as start:
        yield start


@pytest.fixture
async def hub(start_hub) -> Hub:
    return await start_hub()


@pytest.fixture
def sink_kind() -> str:
    """What ``make_sink`` builds (``make_sink`` and ``ev`` are ``tests/services/sink_fixtures.py``'s)."""
    return "signalr"
