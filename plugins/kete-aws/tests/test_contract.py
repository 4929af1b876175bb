"""The four AWS sinks pass the sink contract against the moto server, read back with boto3."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports
from tests.services.moto_fixtures import ACCOUNT

pytestmark = pytest.mark.aws


def _closed(aws) -> dict:
    (port,) = free_ports(1)
    return {**aws.settings(), "endpoint-url": f"http://127.0.0.1:{port}", "timeout-seconds": 1}


class TestSqsSink(SinkContract):
    kind = "aws-sqs"

    @pytest.fixture
    def sink_settings(self, aws):
        aws.sqs_targets()
        return aws.settings(queue=aws.name("${realmLowerCase}"))

    @pytest.fixture
    def read_back(self, aws):
        return lambda: [received.body for received in aws.receive()]

    @pytest.fixture
    def unreachable_settings(self, aws):
        return {**_closed(aws), "queue": "nowhere"}


class TestSnsSink(SinkContract):
    kind = "aws-sns"

    @pytest.fixture
    def sink_settings(self, aws):
        aws.sns_targets()
        return aws.settings(topic=aws.name("${realmLowerCase}"), **{"account-id": ACCOUNT})

    @pytest.fixture
    def read_back(self, aws):
        return lambda: [received.body for received in aws.receive()]

    @pytest.fixture
    def unreachable_settings(self, aws):
        return {**_closed(aws), "topic": "nowhere"}


class TestKinesisSink(SinkContract):
    kind = "aws-kinesis"

    @pytest.fixture
    def sink_settings(self, aws):
        aws.kinesis_targets()
        return aws.settings(stream=aws.name("${realmLowerCase}"), **{"partition-key": "${eventTypeLowerCase}"})

    @pytest.fixture
    def read_back(self, aws):
        return lambda: [received.body for received in aws.kinesis_records()]

    @pytest.fixture
    def unreachable_settings(self, aws):
        return {**_closed(aws), "stream": "nowhere", "partition-key": "k"}


class TestEventBridgeSink(SinkContract):
    kind = "aws-eventbridge"

    @pytest.fixture
    def sink_settings(self, aws):
        aws.eventbridge_targets()
        return aws.settings(
            **{"event-bus": aws.name("${realmLowerCase}"), "source": "kete", "detail-type": "${eventTypePascalCase}"}
        )

    @pytest.fixture
    def read_back(self, aws):
        return lambda: [detail for _, detail in aws.eventbridge_events()]

    @pytest.fixture
    def unreachable_settings(self, aws):
        return {**_closed(aws), "event-bus": "nowhere", "source": "kete", "detail-type": "t"}
