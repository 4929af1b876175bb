"""What the AMQP and STOMP benchmarks share: a RabbitMQ of their own (the test suite's), an exchange and queue to
publish to, and each event's payload and metadata as kete sends them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from kete_core import ComponentConfig, Event, parse_event
from kete_core.builtins.json_serializer import JsonSerializer
from tests.services.rabbitmq_client import declare
from tests.services.rabbitmq_fixtures import RabbitMQ

EXCHANGE, QUEUE = "kete.bench", "kete.bench.q"


def records(events_file: Path) -> list[tuple[Event, bytes]]:
    """Each event of *events_file* with kete's JSON payload of it."""
    serializer = JsonSerializer(ComponentConfig())
    events = [parse_event(orjson.loads(line)) for line in events_file.read_bytes().splitlines() if line.strip()]
    return [(event, serializer.serialize(event)) for event in events if isinstance(event, Event)]


def fresh_queue(broker: RabbitMQ) -> None:
    """The benchmark's exchange and queue, emptied (so the broker's queue never grows across runs)."""

    async def purge() -> None:
        import aio_pika

        queue = await declare(broker.url, EXCHANGE, QUEUE)
        connection = await aio_pika.connect(queue.url)
        async with connection:
            channel = await connection.channel()
            await (await channel.get_queue(QUEUE)).purge()

    asyncio.run(purge())
