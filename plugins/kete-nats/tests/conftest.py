"""An independent reader of what reached the session's NATS server: a JetStream stream that captures
the test's subjects (core NATS publishes included), read message by message with its own connection."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
import pytest
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

T = TypeVar("T")


@dataclass
class Received:
    subject: str
    headers: dict[str, str]
    payload: bytes


def blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run *coroutine* on a loop of its own (usable from sync code and from inside a running loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def create_stream(url: str, name: str, subjects: list[str], **options: Any) -> None:
    connection = await nats.connect(url)
    try:
        await connection.jetstream().add_stream(StreamConfig(name=name, subjects=subjects, **options))
    finally:
        await connection.close()


async def read_stream(url: str, name: str) -> list[Received]:
    """Every message in stream *name*, in order (none when it does not exist)."""
    connection = await nats.connect(url)
    try:
        manager = connection.jsm()
        try:
            state = (await manager.stream_info(name)).state
        except NotFoundError:
            return []
        found = []
        for sequence in range(state.first_seq, state.last_seq + 1) if state.messages else ():
            message = await manager.get_msg(name, sequence)
            headers = {key: value for key, value in (message.headers or {}).items()}
            found.append(Received(message.subject, headers, message.data or b""))
        return found
    finally:
        await connection.close()


@dataclass
class Capture:
    """A stream named *name* capturing ``<prefix>.>`` on the session's server."""

    url: str
    name: str
    prefix: str

    async def read(self) -> list[Received]:
        return await read_stream(self.url, self.name)

    def wait(self, count: int, timeout: float = 30) -> list[Received]:
        """The captured messages once there are *count* (or *timeout* passed)."""
        deadline = time.monotonic() + timeout
        got = blocking(self.read())
        while len(got) < count and time.monotonic() < deadline:
            time.sleep(0.05)
            got = blocking(self.read())
        return got


@dataclass
class Streams:
    """Creates and reads JetStream streams on the server at *url*, from sync code."""

    url: str

    def create(self, name: str, subjects: list[str], **options: Any) -> None:
        blocking(create_stream(self.url, name, subjects, **options))

    def read(self, name: str) -> list[Received]:
        return blocking(read_stream(self.url, name))


@pytest.fixture
def streams(nats_server) -> Streams:
    """Streams on the session's server (test modules cannot import this conftest)."""
    return Streams(nats_server.url)


@pytest.fixture
def capture(nats_server) -> Capture:
    """A fresh stream capturing ``<prefix>.>``, created before the test sends anything."""
    name = f"KETE_TEST_{uuid.uuid4().hex[:10].upper()}"
    prefix = name.lower().replace("_", "-")
    blocking(create_stream(nats_server.url, name, [f"{prefix}.>"]))
    return Capture(nats_server.url, name, prefix)
