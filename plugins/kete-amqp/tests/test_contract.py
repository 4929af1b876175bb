"""The amqp-0.9.1 sink passes the sink contract against the real RabbitMQ."""

from __future__ import annotations

import pytest

from tests.services import rabbitmq_client as at

pytestmark = pytest.mark.amqp


class TestAmqp091Sink(at.RabbitMQSinkContract):
    kind = "amqp-0.9.1"
    unreachable = {"exchange": "x", "connection-timeout-seconds": 2}

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
