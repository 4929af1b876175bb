"""The http sink and source pass their contract classes, against real aiohttp peers on 127.0.0.1."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from kete_core.testing import SinkContract, SourceContract
from kete_core.testing.services import free_ports


class TestHttpSink(SinkContract):
    kind = "http"

    @pytest.fixture
    def sink_settings(self, receiver):
        return {
            "url": f"{receiver.url}/events/${{realmLowerCase}}",
            "headers": {"x-realm": "${realmLowerCase}", "x-type": "${eventTypeUpperCase}"},
            "max-concurrency": 1,
            "retry-attempts": 1,
        }

    @pytest.fixture
    def read_back(self, receiver):
        return lambda: [request.body for request in receiver.requests]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"url": f"http://127.0.0.1:{port}/events", "retry-attempts": 1, "timeout-seconds": "2s"}


class TestHttpSource(SourceContract):
    kind = "http"

    @pytest.fixture
    def source_settings(self):
        (port,) = free_ports(1)
        return {"port": port, "path": "/events", "shutdown-timeout": "1s"}

    @pytest.fixture
    def feed(self, source_settings):
        url = f"http://127.0.0.1:{source_settings['port']}/events"

        async def post(records):
            async with aiohttp.ClientSession() as session:
                for record in records:
                    for _ in range(200):  # until the source listens
                        try:
                            async with session.post(url, data=record, headers={"Content-Type": "application/json"}):
                                break
                        except aiohttp.ClientConnectionError:
                            await asyncio.sleep(0.05)

        return post
