"""The kafka sink and source pass their contract classes against the real Apache Kafka broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from confluent_kafka.admin import AdminClient

from kete_core.testing import SinkContract, SourceContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.kafka


class TestKafkaSink(SinkContract):
    kind = "kafka"

    @pytest.fixture
    def sink_settings(self, kafka_broker, kafka_topic):
        return {"bootstrap.servers": kafka_broker.bootstrap_servers, "topic": f"{kafka_topic}-${{realmLowerCase}}"}

    @pytest.fixture
    def read_back(self, kafka_broker, kafka_topic, kt):
        def read():
            config = kafka_broker.client_config()
            listed = AdminClient({**config, "log_level": 0}).list_topics(timeout=10).topics
            topics = sorted(topic for topic in listed if topic.startswith(kafka_topic))
            return [record.value for record in kt.read_topics(config, topics, idle=1.0, timeout=20)] if topics else []

        return read

    @pytest.fixture
    def unreachable_settings(self, kafka_topic):
        (port,) = free_ports(1)
        return {"bootstrap.servers": f"127.0.0.1:{port}", "topic": kafka_topic, "message.timeout.ms": 3000}


class TestKafkaSource(SourceContract):
    kind = "kafka"

    @pytest.fixture
    def source_settings(self, kafka_broker, kafka_topic):
        return {
            "bootstrap.servers": kafka_broker.bootstrap_servers,
            "group.id": f"contract-{uuid.uuid4().hex[:8]}",
            "topics": [kafka_topic],
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "commit-interval": "100ms",
            "poll-timeout": "100ms",
            "shutdown-timeout": "2s",
        }

    @pytest.fixture
    def feed(self, kafka_broker, kafka_topic, kt):
        async def send(records):
            await asyncio.to_thread(kt.produce, kafka_broker.client_config(), kafka_topic, records)

        return send
