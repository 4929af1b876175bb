"""Smoke tests of the Kafka test brokers themselves, with a real client (confluent-kafka)."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from tests.services.kafka_broker import KafkaBroker, KafkaProtocolBroker, port_open

pytest_plugins = ["tests.services.kafka_fixtures"]
pytestmark = pytest.mark.kafka

Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


def produce(config: dict[str, str], topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    """Produce ``(key, value)`` pairs with acks=all and wait until every one is acknowledged."""
    failures: list[KafkaError] = []
    producer = Producer({**config, "acks": "all", "linger.ms": 5})
    for key, value in messages:
        producer.produce(
            topic,
            value,
            key,
            headers=[("origin", b"kete-test")],
            on_delivery=lambda err, _msg: failures.append(err) if err is not None else None,
        )
    assert producer.flush(30) == 0, "messages still in flight after 30 s"
    assert failures == []


def consume(config: dict[str, str], topic: str, count: int, timeout: float = 30.0) -> list[Message]:
    """Read ``count`` messages from the start of ``topic`` with a fresh consumer group."""
    consumer = Consumer({
        **config,
        "group.id": f"kete-test-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        # Tansu holds JoinGroup for session.timeout.ms / 2; the Kafka test broker allows timeouts this short.
        "session.timeout.ms": 2000,
        "heartbeat.interval.ms": 500,
    })  # fmt: skip
    received: list[Message] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while len(received) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                # Tansu reports a just-created topic as unknown once before serving it.
                assert msg.error().code() == KafkaError.UNKNOWN_TOPIC_OR_PART, msg.error()
                continue
            received.append((msg.key(), msg.value(), list(msg.headers() or [])))
    finally:
        consumer.close()
    return received


def roundtrip(config: dict[str, str], topic: str, count: int = 5) -> None:
    """Produce ``count`` keyed messages and read them all back, headers included."""
    sent = [(f"key-{i}".encode(), f"value-{i}".encode()) for i in range(count)]
    produce(config, topic, sent)
    received = consume(config, topic, count)
    # Tansu auto-creates topics with 4 partitions, so only the set of messages is comparable.
    assert sorted((key, value) for key, value, _ in received) == sorted(sent)
    assert all(headers == [("origin", b"kete-test")] for _, _, headers in received)


def test_produce_and_consume(any_kafka: KafkaProtocolBroker, kafka_topic: str) -> None:
    roundtrip(any_kafka.client_config(), kafka_topic)


def test_brokers_advertise_loopback(any_kafka: KafkaProtocolBroker) -> None:
    metadata = AdminClient(any_kafka.client_config()).list_topics(timeout=10)
    assert [broker.host for broker in metadata.brokers.values()] == ["127.0.0.1"]
    assert any_kafka.bootstrap_servers.startswith("127.0.0.1:")


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_scram_login(kafka_broker: KafkaBroker, kafka_topic: str, mechanism: str) -> None:
    config = kafka_broker.client_config("SASL_PLAINTEXT", mechanism=mechanism)
    assert config["sasl.username"] == kafka_broker.scram_username == "kete"
    roundtrip(config, kafka_topic)


def test_scram_wrong_password_is_rejected(kafka_broker: KafkaBroker) -> None:
    errors: list[KafkaError] = []
    config = kafka_broker.client_config("SASL_PLAINTEXT", password="not-the-password")
    admin = AdminClient({**config, "error_cb": errors.append})
    deadline = time.monotonic() + 15
    while not errors and time.monotonic() < deadline:
        admin.poll(0.1)
    auth = [err for err in errors if err.code() == KafkaError._AUTHENTICATION]
    assert auth, f"expected an authentication error, got {errors}"
    assert "invalid credentials" in auth[0].str()
    assert "SCRAM-SHA-512" in auth[0].str()
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=1)


@pytest.mark.parametrize("listener", ["SSL", "SASL_SSL"])
def test_tls_listeners(kafka_broker: KafkaBroker, kafka_topic: str, listener: str) -> None:
    if not kafka_broker.tls:
        pytest.skip("openssl is not installed, so the broker has no TLS listeners")
    config = kafka_broker.client_config(listener)
    # librdkafka checks the certificate against 127.0.0.1 (ssl.endpoint.identification.algorithm=https).
    assert config["ssl.ca.location"].endswith("ca.pem")
    roundtrip(config, kafka_topic)


def test_stop_and_start_keep_data_and_ports(kafka_broker: KafkaBroker, kafka_topic: str) -> None:
    config = kafka_broker.client_config()
    produce(config, kafka_topic, [(b"before", b"restart")])
    ports = dict(kafka_broker.ports)
    kafka_broker.stop()
    assert not kafka_broker.is_running()
    assert not port_open(ports["PLAINTEXT"])
    kafka_broker.start()
    assert kafka_broker.ports == ports
    produce(config, kafka_topic, [(b"after", b"restart")])
    received = consume(config, kafka_topic, 2)
    assert [(key, value) for key, value, _ in received] == [(b"before", b"restart"), (b"after", b"restart")]
    # SCRAM users live in the metadata log, so they survive the restart too.
    roundtrip(kafka_broker.client_config("SASL_PLAINTEXT"), f"{kafka_topic}-sasl", count=1)


def test_kill_and_start_keep_acknowledged_data(kafka_broker: KafkaBroker, kafka_topic: str) -> None:
    config = kafka_broker.client_config()
    produce(config, kafka_topic, [(b"k", b"acknowledged before the crash")])
    kafka_broker.kill()
    assert not kafka_broker.is_running()
    kafka_broker.start()
    received = consume(config, kafka_topic, 1)
    assert [(key, value) for key, value, _ in received] == [(b"k", b"acknowledged before the crash")]
