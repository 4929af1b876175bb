"""Independent readers of what reached the session's Redis server (redis-py's blocking client)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis


@dataclass
class Published:
    channel: str
    payload: bytes


@dataclass
class Subscriber:
    """Receives everything published on channels matching *pattern*, in a thread."""

    port: int
    pattern: str
    received: list[Published] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Subscriber:
        client = redis.Redis(host="127.0.0.1", port=self.port)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.psubscribe(self.pattern)
        pubsub.get_message(timeout=5)  # the subscription is confirmed: nothing published from now on is missed

        def listen() -> None:
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=0.05)
                if message is not None:
                    self.received.append(Published(message["channel"].decode(), message["data"]))
            pubsub.close()
            client.close()

        self._thread = threading.Thread(target=listen, daemon=True)
        self._thread.start()
        return self

    def wait(self, count: int, timeout: float = 30) -> list[Published]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


@dataclass
class Entry:
    stream: str
    id: str
    fields: dict[str, bytes]


def read_streams(port: int, prefix: str, **options: Any) -> list[Entry]:
    """Every entry of every stream whose key starts with *prefix*, ordered by entry id."""
    client = redis.Redis(host="127.0.0.1", port=port, **options)
    try:
        entries = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            if client.type(key) != b"stream":
                continue
            for entry_id, fields in client.xrange(key):
                entries.append(Entry(key.decode(), entry_id.decode(), {k.decode(): v for k, v in fields.items()}))
        entries.sort(key=lambda entry: tuple(int(part) for part in entry.id.split("-")))
        return entries
    finally:
        client.close()


def wait_streams(port: int, prefix: str, count: int, timeout: float = 30) -> list[Entry]:
    """:func:`read_streams` once it finds *count* entries (or *timeout* passed)."""
    deadline = time.monotonic() + timeout
    entries = read_streams(port, prefix)
    while len(entries) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        entries = read_streams(port, prefix)
    return entries


@pytest.fixture
def streams(redis_server) -> Callable[..., list[Entry]]:
    """``streams(prefix, count=0)``: the entries under *prefix* on the session's server, once there
    are *count* of them (test modules cannot import this conftest)."""

    def read(prefix: str, count: int = 0, timeout: float = 30) -> list[Entry]:
        return wait_streams(redis_server.port, prefix, count, timeout)

    return read


@pytest.fixture
def prefix() -> str:
    """Key and channel names no other test uses."""
    return f"kete-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def subscriber(redis_server, prefix) -> Iterator[Subscriber]:
    """Subscribed to ``<prefix>*`` before the test sends anything."""
    listening = Subscriber(redis_server.port, f"{prefix}*").start()
    yield listening
    listening.stop()
