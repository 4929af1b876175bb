"""Fixtures for a sink plugin's tests: ``make_sink`` builds sinks of the kind the plugin's conftest
names in its ``sink_kind`` fixture, ``ev`` makes messages, ``server`` is a test server its
``start_server`` fixture started with no settings. A conftest that needs other builders defines
its own (kete-http's does)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from kete_core import Message, Sink
from kete_core.testing import json_message, sink_builder


@pytest.fixture
async def make_sink(sink_kind: str) -> AsyncIterator[Callable[..., Sink]]:
    """Build sinks of ``sink_kind``: ``make_sink(**settings)`` (kebab-case keys); every one is closed
    after the test."""
    async with sink_builder(sink_kind) as build:
        yield build


@pytest.fixture
async def server(start_server: Callable[..., Awaitable[Any]]) -> Any:
    """The test server ``await start_server()`` gives (stopped after the test, as all it starts)."""
    return await start_server()


@pytest.fixture
def ev() -> Callable[..., Message]:
    """``ev(number, realm="acme", event_type="LOGIN")``: a user event as the json serializer's message."""
    return json_message
