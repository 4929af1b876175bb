"""The amqp-0.9.1 sink passes the sink contract against the real RabbitMQ."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports
from tests.services import rabbitmq_client as at

pytestmark = pytest.mark.amqp


class TestAmqp091Sink(SinkContract):
    kind = "amqp-0.9.1"

    @pytest.fixture
    async def queue(self, rabbitmq, rabbitmq_names):
        return await at.declare(rabbitmq.url, *rabbitmq_names)

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
    def read_back(self, queue):
        async def read():
            return [message.body for message in await at.consume(queue, idle=0.3)]

        return read

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"host": "127.0.0.1", "port": port, "exchange": "x", "connection-timeout-seconds": 2}
