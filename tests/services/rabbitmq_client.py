"""A test client of the session's RabbitMQ (aio-pika, not the sinks' code path) and helpers for running
``kete run`` against it, shared by the kete-amqp and kete-stomp tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import aio_pika
import orjson
import pytest

from kete_core import DeliveryResults, Event, Message, parse_event
from kete_core.testing import (
    SinkContract,
    build_sink,
    replay_config,
    replay_properties,
    run_kete,
    send_once,
    user_event,
    write_jsonl,
)
from kete_core.testing.outage import OutageReport, run_through_an_outage
from kete_core.testing.services import free_ports


@dataclass
class Queue:
    """A durable queue bound to a topic exchange with ``#`` (both named for one test)."""

    url: str
    exchange: str
    name: str


async def declare(url: str, exchange: str, queue: str, binding: str = "#", **arguments: Any) -> Queue:
    """Declare a durable topic *exchange* and a durable *queue* bound to it with *binding*."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        target = await channel.declare_queue(queue, durable=True, arguments=arguments or None)
        await target.bind(declared, binding)
    return Queue(url, exchange, queue)


async def consume(queue: Queue, count: int | None = None, idle: float = 0.5, timeout: float = 20.0) -> list[Any]:
    """The messages in *queue* (acknowledged, so taken out): until *count* arrived, or until none came for *idle*
    seconds (when *count* is None)."""
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    deadline = time.monotonic() + timeout
    connection = await aio_pika.connect(queue.url)
    async with connection:
        channel = await connection.channel()
        source = await channel.get_queue(queue.name, ensure=False)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            message = await source.get(fail=False, no_ack=True)
            if message is not None:
                got.append(message)
                quiet_since = time.monotonic()
                if count is not None and len(got) >= count:
                    break
                continue
            if count is None and time.monotonic() - quiet_since > idle:
                break
            await asyncio.sleep(0.05)
    return got


def ids(messages: list[Any]) -> list[str]:
    """The Keycloak event ids of the messages (JSON payloads), in order, whichever client read them."""
    return [orjson.loads(bytes(message.body))["id"] for message in messages]


def make_events(count: int, *, prefix: str = "e") -> list[dict[str, Any]]:
    """*count* Keycloak events, every third an admin event, in realms ``acme`` and ``master``."""
    events: list[dict[str, Any]] = []
    for number in range(count):
        realm = ("acme", "master")[number % 2]
        base = {
            "id": f"{prefix}-{number}",
            "time": 1767225600000 + number,
            "realmId": f"{realm}-id",
            "realmName": realm,
        }
        if number % 3 == 2:
            base |= {"resourceType": "USER", "operationType": "CREATE", "resourcePath": f"users/{number}"}
        else:
            base |= {"type": "LOGIN", "clientId": "web", "userId": f"user-{number}"}
        events.append(base)
    return events


def deliver(tmp_path: Path, events: list[dict[str, Any]], destination: dict[str, Any]) -> None:
    """``kete run`` of *events* (written to ``events.jsonl``) through one route to *destination*; it must exit 0."""
    write_jsonl(tmp_path / "events.jsonl", events)
    result = run_kete("run", str(replay_config(tmp_path, destination)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def deliver_kete_properties(tmp_path: Path, route: str, destination: dict[str, Any], count: int = 6) -> None:
    """``kete run`` of a KETE ``.properties`` file: *count* events from a file into route *route*, whose
    ``destination.*`` keys are *destination*'s (written as they are); it must deliver every event."""
    write_jsonl(tmp_path / "events.jsonl", make_events(count))
    keys = (f"kete.routes.{route}.destination.{key}={value}" for key, value in destination.items())
    config = replay_properties(tmp_path, *keys)
    result = run_kete("run", str(config), cwd=tmp_path)
    shown = f"route {route}: {count} matched, {count} delivered, 0 failed"
    assert shown in result.stdout + result.stderr, result.stderr


async def send_by_realm(destination: dict[str, Any], realms: list[str]) -> tuple[list[Event], DeliveryResults]:
    """One batch straight to a sink built from *destination* (its ``kind`` and settings): a user event in
    each of *realms*, its payload ``{"id": ...}``. Returns the events and what the sink's ``send`` returned."""
    settings = dict(destination)
    sink = build_sink(settings.pop("kind"), settings)
    events = [parse_event(user_event(number, realm=realm)) for number, realm in enumerate(realms)]
    messages = [Message(event, orjson.dumps({"id": event.id}), "application/json") for event in events]
    return events, await send_once(sink, messages)


class RabbitMQSinkContract(SinkContract):
    """The sink contract against the session's RabbitMQ: a ``queue`` declared for each test, and
    ``unreachable_settings`` of a free port with the class's :attr:`unreachable` settings."""

    unreachable: ClassVar[dict[str, Any]] = {}
    """Settings besides ``host`` and ``port`` that make the sink give up on a closed port quickly."""

    @pytest.fixture
    async def queue(self, rabbitmq: Any, rabbitmq_names: tuple[str, str]) -> Queue:
        return await declare(rabbitmq.url, *rabbitmq_names)

    @pytest.fixture
    def unreachable_settings(self) -> dict[str, Any]:
        (port,) = free_ports(1)
        return {"host": "127.0.0.1", "port": port, **self.unreachable}


@dataclass
class StompMessage:
    """A message as a STOMP subscriber receives it."""

    headers: dict[str, str]
    body: bytes


def stomp_consume(
    port: int, queue: str, count: int | None = None, idle: float = 0.5, timeout: float = 20.0
) -> list[StompMessage]:
    """The messages in *queue*, taken by a STOMP subscriber (stomp.py) on ``/amq/queue/<queue>``: until *count*
    arrived, or until none came for *idle* seconds (when *count* is None)."""
    import stomp  # a test dependency of kete-stomp only

    got: list[StompMessage] = []

    class Collect(stomp.ConnectionListener):  # type: ignore[misc]
        def on_message(self, frame: Any) -> None:
            got.append(StompMessage(dict(frame.headers), frame.body))

    connection = stomp.Connection12([("127.0.0.1", port)], vhost="/", auto_decode=False)
    connection.set_listener("collect", Collect())
    connection.connect("kete", "kete-secret", wait=True)
    try:
        connection.subscribe(f"/amq/queue/{queue}", id="1", ack="auto")
        deadline = time.monotonic() + timeout
        seen, quiet_since = 0, time.monotonic()
        while time.monotonic() < deadline and (count is None or len(got) < count):
            if len(got) != seen:
                seen, quiet_since = len(got), time.monotonic()
            elif count is None and time.monotonic() - quiet_since > idle:
                break
            time.sleep(0.05)
    finally:
        connection.disconnect()
    return got


def amqp1_consume(
    port: int, queue: str, count: int | None = None, idle: float = 0.5, timeout: float = 20.0
) -> list[Any]:
    """The messages in *queue* as an AMQP 1.0 receiver gets them (on ``/amq/queue/<queue>``); see
    :func:`amqp1_receive`."""
    return amqp1_receive(port, f"/amq/queue/{queue}", count, idle, timeout)


def amqp1_receive(
    port: int, address: str, count: int | None = None, idle: float = 0.5, timeout: float = 20.0
) -> list[Any]:
    """The messages of *address* as an AMQP 1.0 receiver gets them (Proton's blocking client, user ``kete``, each
    message accepted): until *count* arrived, or until none came for *idle* seconds (when *count* is None)."""
    from proton import Timeout
    from proton.utils import BlockingConnection

    got: list[Any] = []
    connection = BlockingConnection(
        f"amqp://127.0.0.1:{port}", user="kete", password="kete-secret", allowed_mechs="PLAIN", timeout=timeout
    )
    try:
        receiver = connection.create_receiver(address, credit=100)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (count is None or len(got) < count):
            try:
                got.append(receiver.receive(timeout=idle if count is None else max(0.1, deadline - time.monotonic())))
            except Timeout:
                if count is None:
                    break
            else:
                receiver.accept()
    finally:
        connection.close()
    return got


def mutual_tls(pki: Any) -> dict[str, Any]:
    """KETE's ``tls.*`` settings trusting *pki*'s CA and showing its client certificate, with host name checks."""
    return {
        "tls.enabled": True,
        "tls.verify-hostname": True,
        "tls.trust-store.loader.kind": "pem-file-path",
        "tls.trust-store.loader.path": str(pki.ca_file),
        "tls.key-store.loader.kind": "pem-file-path",
        "tls.key-store.loader.path": str(pki.client_file),
    }


def check_wrong_password(spawn: Callable[[Path], Any], tmp_path: Path, destination: dict[str, Any], shown: str) -> str:
    """``kete run`` with a wrong ``password`` in *destination*: the route waits, its log says *shown* and never the
    password, the events stay in the spool and nothing is dead-lettered. Returns the log."""
    write_jsonl(tmp_path / "events.jsonl", make_events(5))
    kete = spawn(replay_config(tmp_path, {**destination, "password": "not-the-password-42"}))
    kete.wait_for_log(f"the destination is not available yet: Unavailable: {shown}")
    assert kete.stop() == 1
    log: str = kete.log
    assert "not-the-password-42" not in log
    assert "5 event(s) wait in the spool" in log
    assert not (tmp_path / "data" / "dead-letters").exists()
    return log


async def through_a_restart(broker: Any, queue: Queue, tmp_path: Path, destination: dict[str, Any]) -> OutageReport:
    """``kete run`` into *destination* with the broker stopped mid-run and started again
    (:func:`kete_core.testing.outage.run_through_an_outage`); what arrives is read from *queue* by an AMQP 1.0
    receiver, whatever protocol kete sent it with."""
    got: set[str] = set()

    def received() -> set[str]:
        messages = amqp1_consume(broker.port("amqp"), queue.name, idle=0.2, timeout=5)
        got.update(ids(messages))
        return got

    async def stop() -> None:
        await asyncio.to_thread(broker.stop)

    async def start() -> None:
        await asyncio.to_thread(broker.start)

    return await run_through_an_outage(tmp_path, destination, received=received, stop=stop, start=start)
