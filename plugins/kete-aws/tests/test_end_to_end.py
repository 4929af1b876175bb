"""``kete run`` with KETE ``.properties`` configurations, events from a file, and the four AWS kinds
on the moto server: every event read back at its address with its attributes; entries AWS refuses
fail alone and are dead-lettered while the rest of their batch is delivered once."""

from __future__ import annotations

import orjson
import pytest

from kete_core.testing import read_jsonl, run_kete, write_jsonl
from kete_core.testing.contracts import admin_event, user_event
from tests.services.moto_fixtures import ACCOUNT

pytestmark = pytest.mark.aws


def _events() -> list[dict]:
    events = []
    for number in range(1, 25):
        realm = ("acme", "other-realm")[number % 2]
        events.append(user_event(number, realm=realm) if number % 3 else admin_event(number, realm=realm))
    return events


def _properties(tmp_path, aws, events: list[dict], route: str, destination: dict) -> str:
    write_jsonl(tmp_path / "events.jsonl", events)
    lines = [
        f"kete.data-dir={tmp_path / 'data'}",
        "kete.sources.replay.kind=file",
        f"kete.sources.replay.path={tmp_path / 'events.jsonl'}",
        f"kete.routes.{route}.retry.max-attempts=2",
        f"kete.routes.{route}.retry.wait-duration=10ms",
    ]
    lines += [
        f"kete.routes.{route}.destination.{key}={value}" for key, value in {**aws.settings(), **destination}.items()
    ]
    config = tmp_path / "kete.properties"
    config.write_text("\n".join(lines) + "\n")
    return str(config)


def _run(config: str, status: int = 0) -> str:
    """Run kete on *config*; it exits 1 when it dead-lettered events."""
    result = run_kete("run", config, timeout=120)
    assert result.returncode == status, result.stderr
    return result.stderr


def _dead(tmp_path, route: str) -> list[dict]:
    path = tmp_path / "data" / "dead-letters" / f"{route}.jsonl"
    return read_jsonl(path) if path.exists() else []


def _by_id(events: list[dict]) -> dict[str, dict]:
    return {event["id"]: event for event in events}


def _kind(event: dict) -> str:
    return "ADMIN_EVENT" if "operationType" in event else "EVENT"


def _type(event: dict) -> str:
    return event.get("type") or f"{event['resourceType']}_{event['operationType']}"


def test_aws_sqs_delivers_every_event_to_its_realms_queue_with_ketes_attributes(tmp_path, aws):
    aws.sqs_targets(("acme", "other-realm"))
    events = _events()
    config = _properties(
        tmp_path, aws, events, "queues",
        {"kind": "aws-sqs", "queue": aws.name("${realmLowerCase}"), "attributes.team": "identity",
         "headers.team": "iam", "headers.origin": "kete"},
    )  # fmt: skip
    _run(config)
    received = aws.receive()
    assert len(received) == len(events)
    sent = _by_id(events)
    for message in received:
        event = sent[orjson.loads(message.body)["id"]]
        assert message.where.endswith("/" + aws.name(event["realmName"]))
        assert message.attributes == {
            "eventkind": _kind(event),
            "eventtype": _type(event),
            "contenttype": "application/json",
            "team": "iam",  # headers win over attributes, as in KETE
            "origin": "kete",
        }
    assert _dead(tmp_path, "queues") == []


def test_aws_sqs_fifo_keeps_each_groups_order_and_sets_its_group_id(tmp_path, aws):
    aws.sqs_targets(("acme", "other-realm"), ".fifo", FifoQueue="true", ContentBasedDeduplication="true")
    events = _events()
    config = _properties(
        tmp_path, aws, events, "fifo",
        {"kind": "aws-sqs", "queue": aws.name("${realmLowerCase}", ".fifo"), "message-group-id": "${eventTypeLowerCase}"},
    )  # fmt: skip
    _run(config)
    received = aws.receive()
    assert len(received) == len(events)
    sent = _by_id(events)
    for realm in ("acme", "other-realm"):
        ids = [orjson.loads(m.body)["id"] for m in received if m.where.endswith(aws.name(realm, ".fifo"))]
        assert ids == [event["id"] for event in events if event["realmName"] == realm]
    for message in received:
        assert message.extra["MessageGroupId"] == _type(sent[orjson.loads(message.body)["id"]]).lower()


def test_aws_sns_publishes_to_its_realms_topic_with_subject_and_attributes(tmp_path, aws):
    aws.sns_targets(("acme", "other-realm"), raw=False)
    events = _events()
    config = _properties(
        tmp_path, aws, events, "topics",
        {"kind": "aws-sns", "topic": aws.name("${realmLowerCase}"), "account-id": ACCOUNT,
         "subject": "Keycloak ${eventTypeUpperCase}", "attributes.team": "identity"},
    )  # fmt: skip
    _run(config)
    received = aws.receive()
    assert len(received) == len(events)
    sent = _by_id(events)
    for message in received:
        envelope = orjson.loads(message.body)
        event = sent[orjson.loads(envelope["Message"])["id"]]
        assert envelope["TopicArn"] == f"arn:aws:sns:us-east-1:{ACCOUNT}:{aws.name(event['realmName'])}"
        assert envelope["Subject"] == f"Keycloak {_type(event)}"
        attributes = {name: value["Value"] for name, value in envelope["MessageAttributes"].items()}
        assert attributes == {
            "eventkind": _kind(event),
            "eventtype": _type(event),
            "contenttype": "application/json",
            "team": "identity",
        }


def test_aws_kinesis_puts_each_event_on_its_realms_stream_with_its_partition_key(tmp_path, aws):
    aws.kinesis_targets(("acme", "other-realm"))
    events = _events()
    config = _properties(
        tmp_path, aws, events, "streams",
        {"kind": "aws-kinesis", "stream": aws.name("${realmLowerCase}"), "partition-key": "${eventTypeKebabCase}",
         "content-encoding": "gzip"},  # accepted and ignored, as KETE
    )  # fmt: skip
    _run(config)
    records = aws.kinesis_records(("acme", "other-realm"))
    assert len(records) == len(events)
    sent = _by_id(events)
    for record in records:
        event = sent[orjson.loads(record.body)["id"]]
        assert record.where == aws.name(event["realmName"])
        assert record.extra["key"] == _type(event).lower().replace("_", "-")


def test_aws_eventbridge_puts_each_event_on_its_realms_bus_with_source_and_detail_type(tmp_path, aws):
    aws.eventbridge_targets(("acme", "other-realm"))
    events = _events()
    config = _properties(
        tmp_path, aws, events, "buses",
        {"kind": "aws-eventbridge", "event-bus": aws.name("${realmLowerCase}"), "source": "keycloak.${realmLowerCase}",
         "detail-type": "${eventTypePascalCase}"},
    )  # fmt: skip
    _run(config)
    delivered = aws.eventbridge_events()
    assert len(delivered) == len(events)
    sent = _by_id(events)
    for envelope, _ in delivered:
        event = sent[envelope["detail"]["id"]]
        assert envelope["source"] == f"keycloak.{event['realmName']}"
        assert envelope["detail-type"] == _type(event).title().replace("_", "")


# --------------------------------------------------------------------------- refused entries

TOO_LARGE = {"aws-sqs": 1100 * 1024, "aws-sns": 300 * 1024, "aws-kinesis": 1100 * 1024}
"""Sizes of an event the service refuses: SQS and Kinesis take 1 MiB, SNS 256 KiB."""


def _with_oversize(kind: str) -> tuple[list[dict], set[str]]:
    events = [user_event(number) for number in range(1, 13)]
    for number in (4, 9):
        events[number - 1]["details"] = {"blob": "x" * TOO_LARGE[kind]}
    return events, {"e4", "e9"}


@pytest.mark.parametrize("kind", ["aws-sqs", "aws-sns"])
def test_entries_aws_refuses_are_dead_lettered_and_the_rest_of_their_batch_is_delivered_once(tmp_path, aws, kind):
    events, oversize = _with_oversize(kind)
    if kind == "aws-sqs":
        aws.sqs_targets(("acme",))
        destination = {"kind": kind, "queue": aws.name("acme")}
    else:
        aws.sns_targets(("acme",))
        destination = {"kind": kind, "topic": aws.name("acme"), "account-id": ACCOUNT}
    _run(_properties(tmp_path, aws, events, "refusing", destination), 1)
    ids = [orjson.loads(message.body)["id"] for message in aws.receive()]
    assert sorted(ids) == sorted(event["id"] for event in events if event["id"] not in oversize)
    dead = _dead(tmp_path, "refusing")
    assert {letter["event"]["id"] for letter in dead} == oversize
    assert all("aws-" in letter["error"] for letter in dead), dead


def test_a_kinesis_record_too_large_is_dead_lettered_alone(tmp_path, aws):
    events, oversize = _with_oversize("aws-kinesis")
    aws.kinesis_targets(("acme",))
    _run(
        _properties(
            tmp_path, aws, events, "records", {"kind": "aws-kinesis", "stream": aws.name("acme"), "partition-key": "k"}
        ),
        1,
    )
    ids = [orjson.loads(record.body)["id"] for record in aws.kinesis_records(("acme",))]
    assert ids == [event["id"] for event in events if event["id"] not in oversize]  # in order, once each
    assert {letter["event"]["id"] for letter in _dead(tmp_path, "records")} == oversize


def test_eventbridge_entries_it_refuses_are_dead_lettered_not_counted_delivered(tmp_path, aws):
    """KETE ignored ``FailedEntryCount``: a ``detail`` EventBridge refuses (here base64, not JSON) was lost
    silently. kete reads each entry's answer and dead-letters the refused ones."""
    aws.eventbridge_targets(("acme",))
    events = [user_event(number) for number in range(1, 6)]
    config = _properties(
        tmp_path, aws, events, "bus",
        {"kind": "aws-eventbridge", "event-bus": aws.name("acme"), "source": "kete", "detail-type": "t",
         "content-transfer-encoding": "base64"},
    )  # fmt: skip
    _run(config, 1)
    assert aws.eventbridge_events() == []
    dead = _dead(tmp_path, "bus")
    assert sorted(letter["event"]["id"] for letter in dead) == [event["id"] for event in events]
    assert all("MalformedDetail" in letter["error"] for letter in dead)
