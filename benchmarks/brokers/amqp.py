"""kete's ``amqp-0.9.1`` and ``amqp-1`` sinks next to the plain clients publishing the same payloads (kete's JSON)
with the same metadata to one RabbitMQ 3 (the test suite's, its AMQP 1.0 plugin for ``amqp-1``), each message
counted when the broker confirms it (0.9.1: publisher confirms; 1.0: the ``accepted`` disposition).

The 0.9.1 client is aiormq with confirms, 1,000 publishes in flight at a time; the 1.0 client is a Qpid Proton
reactor sender with as many in flight as the broker's link credit allows. Their time runs from the first
publish to the last confirm, on a connection opened before. kete is ``kete run`` from a file (source, spool,
serializer, sink), less its start-up time."""

from __future__ import annotations

import asyncio
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import aiormq
import proton
from pamqp.commands import Basic
from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import Container

from benchmarks.brokers._rabbitmq import EXCHANGE, fresh_queue, records
from benchmarks.common import make_events
from benchmarks.throughput import Line, kete_rate
from kete_core import Event
from tests.services.rabbitmq_fixtures import PASSWORD, USER, RabbitMQ, running_rabbitmq

IN_FLIGHT = 1000


async def _amqp091_client(url: str, events_file: Path) -> float:
    batch = records(events_file)
    connection = await aiormq.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)

        async def publish(event: Event, payload: bytes) -> object:
            properties = Basic.Properties(
                content_type="application/json",
                delivery_mode=2,
                headers={"eventkind": event.kind, "eventtype": event.event_type},
            )
            return await channel.basic_publish(payload, exchange=EXCHANGE, routing_key="bench", properties=properties)

        started = time.perf_counter()
        for start in range(0, len(batch), IN_FLIGHT):
            confirms = await asyncio.gather(*(publish(*record) for record in batch[start : start + IN_FLIGHT]))
            assert all(isinstance(confirm, Basic.Ack) for confirm in confirms)
        return len(batch) / (time.perf_counter() - started)
    finally:
        await connection.close()


class _Sender(MessagingHandler):  # type: ignore[misc]
    """Sends every message as credit allows; done when the broker accepted them all."""

    def __init__(self, url: str, address: str, messages: list[Message]) -> None:
        super().__init__()
        self.url, self.address, self.messages = url, address, messages
        self.sent = self.accepted = 0
        self.started = self.finished = 0.0

    def on_start(self, event: proton.Event) -> None:
        connection = event.container.connect(self.url, user=USER, password=PASSWORD, allowed_mechs="PLAIN")
        event.container.create_sender(connection, self.address)

    def on_sendable(self, event: proton.Event) -> None:
        if not self.started:
            self.started = time.perf_counter()
        while event.sender.credit and self.sent < len(self.messages):
            event.sender.send(self.messages[self.sent])
            self.sent += 1

    def on_accepted(self, event: proton.Event) -> None:
        self.accepted += 1
        if self.accepted == len(self.messages):
            self.finished = time.perf_counter()
            event.connection.close()

    def on_rejected(self, event: proton.Event) -> None:
        raise RuntimeError("the broker rejected a message")


def _amqp1_client(port: int, events_file: Path) -> float:
    messages = [
        Message(body=payload, inferred=True, durable=True, content_type="application/octet-stream",
                properties={"eventkind": event.kind, "eventtype": event.event_type, "contenttype": "application/json"})
        for event, payload in records(events_file)
    ]  # fmt: skip
    sender = _Sender(f"amqp://127.0.0.1:{port}", f"/exchange/{EXCHANGE}/bench", messages)
    Container(sender).run()
    return len(messages) / (sender.finished - sender.started)


def _destination(broker: RabbitMQ, kind: str) -> str:
    common = f'host = "127.0.0.1"\nport = {broker.port("amqp")}\nusername = "{USER}"\npassword = "{PASSWORD}"\n'
    if kind == "amqp-0.9.1":
        return f'kind = "amqp-0.9.1"\n{common}exchange = "{EXCHANGE}"\nrouting-key = "bench"\n'
    return f'kind = "amqp-1"\n{common}destination-name = "/exchange/{EXCHANGE}/bench"\n'


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-amqp-") as tmp:
        folder = Path(tmp)
        events_file = make_events(folder / "events.jsonl", events)
        with running_rabbitmq(folder) as broker:
            fresh_queue(broker)
            asyncio.run(_amqp091_client(broker.url, events_file))  # warm-up
            fresh_queue(broker)
            client = asyncio.run(_amqp091_client(broker.url, events_file))
            fresh_queue(broker)
            kete = kete_rate(folder, events_file, events, _destination(broker, "amqp-0.9.1"))
            fresh_queue(broker)
            client1 = _amqp1_client(broker.port("amqp"), events_file)
            fresh_queue(broker)
            kete1 = kete_rate(folder, events_file, events, _destination(broker, "amqp-1"))
            fresh_queue(broker)
        rabbit = "RabbitMQ 3.10, persistent messages to a durable queue"
        return [
            Line("amqp-0.9.1 (RabbitMQ)", kete, client,
                 f"{rabbit}; aiormq {version('aiormq')} with confirms, {IN_FLIGHT} in flight"),
            Line("amqp-1 (RabbitMQ AMQP 1.0 plugin)", kete1, client1,
                 f"{rabbit}; Qpid Proton {version('python-qpid-proton')} reactor, accepted dispositions counted"),
        ]  # fmt: skip
