"""The amqp-0.9.1 sink passes the sink contract against the real RabbitMQ."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.amqp


class TestAmqp091Sink(SinkContract):
    kind = "amqp-0.9.1"

    @pytest.fixture
    async def queue(self, rabbitmq, queue_names, at):
        return await at.declare(rabbitmq.url, *queue_names)

    @pytest.fixture
    def sink_settings(self, rabbitmq, queue):
        return {
            "host": "127.0.0.1",
            "port": rabbitmq.port("amqp"),
            "username": "kete",
            "password": "kete-secret",
            "exchange": queue.exchange,
            "routing-key": "kete.${realmLowerCase}",
        }

    @pytest.fixture
    def read_back(self, queue, at):
        async def read():
            return [message.body for message in await at.consume(queue, idle=0.3)]

        return read

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"host": "127.0.0.1", "port": port, "exchange": "x", "connection-timeout-seconds": 2}
