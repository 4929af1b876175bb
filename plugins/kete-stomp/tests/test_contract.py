"""The stomp sink passes the sink contract against the real RabbitMQ (its STOMP plugin)."""

from __future__ import annotations

import pytest

from tests.services import rabbitmq_client as at

pytestmark = pytest.mark.stomp


class TestStompSink(at.RabbitMQSinkContract):
    kind = "stomp"
    unreachable = {"destination": "/queue/x", "read-timeout-seconds": 2}

    @pytest.fixture
    def sink_settings(self, rabbitmq, queue):
        return {
            "host": "127.0.0.1",
            "port": rabbitmq.port("stomp"),
            "username": "kete",
            "password": "kete-secret",
            "virtual-host": "/",
            "destination": f"/exchange/{queue.exchange}/kete.${{realmLowerCase}}",
        }

    @pytest.fixture
    def read_back(self, rabbitmq, queue):
        # A STOMP subscriber: RabbitMQ takes a routing key over 255 bytes from STOMP (the poison realm), which an
        # AMQP 0.9.1 consumer cannot be given.
        return lambda: [message.body for message in at.stomp_consume(rabbitmq.port("stomp"), queue.name, idle=0.3)]
