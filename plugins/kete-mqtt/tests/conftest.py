"""Helpers for the MQTT plugin's tests: an independent paho subscriber, events, background ``kete run``.

The broker is the session fixture ``mosquitto`` of ``tests/services/mosquitto_fixtures.py``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.services.waiting import Inbox


@dataclass
class Received:
    """One message the subscriber got."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    user_properties: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = None
    expiry: int | None = None


class Subscriber(Inbox[Received]):
    """A paho client (its own thread) subscribed to ``<filter>``, keeping what it receives in order."""

    def __init__(self, port: int, topic_filter: str, *, v5: bool = True, persistent: bool = False) -> None:
        super().__init__()
        subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"reader-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            clean_session=None if v5 else not persistent,
        )
        connect: dict[str, Any] = {}
        if v5 and persistent:
            # A session that outlives the connection (and, with the broker's persistence, its restart).
            session = Properties(PacketTypes.CONNECT)
            session.SessionExpiryInterval = 600
            connect = {"clean_start": False, "properties": session}
        self.client.reconnect_delay_set(1, 2)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_connect = lambda client, *_: client.subscribe(topic_filter, qos=1)
        self.client.connect("127.0.0.1", port, **connect)
        self.client.loop_start()
        assert subscribed.wait(10), "the test subscriber could not subscribe"

    def _on_message(self, _client: Any, _userdata: Any, message: paho.MQTTMessage) -> None:
        properties = getattr(message, "properties", None)
        received = Received(
            message.topic,
            message.payload,
            message.qos,
            bool(message.retain),
            list(getattr(properties, "UserProperty", []) or []),
            getattr(properties, "ContentType", None),
            getattr(properties, "MessageExpiryInterval", None),
        )
        self.add(received)

    def payloads(self) -> list[bytes]:
        return [message.payload for message in self.received()]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscribe(mosquitto: Any) -> Iterator[Callable[..., Subscriber]]:
    """``subscribe(topic_filter, v5=True, persistent=False)``: a subscriber on the broker's anonymous
    listener; a persistent one keeps its session across reconnects and broker restarts."""
    made: list[Subscriber] = []

    def make(topic_filter: str, *, v5: bool = True, persistent: bool = False) -> Subscriber:
        subscriber = Subscriber(mosquitto.port, topic_filter, v5=v5, persistent=persistent)
        made.append(subscriber)
        return subscriber

    yield make
    for subscriber in made:
        subscriber.close()


@pytest.fixture
def topic_root() -> str:
    """A topic prefix no other test uses."""
    return f"kete-test/{uuid.uuid4().hex[:10]}"
