"""The amqp-1 sink passes the sink contract against the real RabbitMQ (its AMQP 1.0 plugin)."""

from __future__ import annotations

import pytest

from tests.services import rabbitmq_client as at

pytestmark = pytest.mark.amqp


class TestAmqp1Sink(at.RabbitMQSinkContract):
    kind = "amqp-1"
    unreachable = {"destination-name": "x", "send-timeout-seconds": 2}

    @pytest.fixture
    def sink_settings(self, rabbitmq, queue):
        return {
            "host": "127.0.0.1",
            "port": rabbitmq.port("amqp"),
            "username": "kete",
            "password": "kete-secret",
            # RabbitMQ 3's AMQP 1.0 addresses: /exchange/<exchange>/<routing key>
            "destination-name": f"/exchange/{queue.exchange}/kete.${{realmLowerCase}}",
            "send-timeout-seconds": 5,
        }

    @pytest.fixture
    def read_back(self, rabbitmq, queue):
        # An AMQP 1.0 receiver: RabbitMQ takes a routing key over 255 bytes from AMQP 1.0 (the poison realm), which
        # an AMQP 0.9.1 consumer cannot be given.
        return lambda: [bytes(m.body) for m in at.amqp1_consume(rabbitmq.port("amqp"), queue.name, idle=0.5)]
