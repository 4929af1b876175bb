"""The Kafka sink in-process against real brokers (Apache Kafka and Tansu): records, per-message
outcomes, and an unreachable cluster."""

from __future__ import annotations

import socket
import time

import orjson
import pytest
from kete_kafka.settings import KafkaSinkConfig
from kete_kafka.sink import KafkaSink

from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.builtins.kete_renderer import KeteRenderer
from kete_core.config.tree import canonical
from kete_core.contracts import ComponentConfig, Message, SinkContext
from kete_core.errors import PermanentError, RenderError, Unavailable
from kete_core.event import parse_event
from kete_core.testing import send_once

SERIALIZER = JsonSerializer(ComponentConfig())


def make_sink(**dotted) -> KafkaSink:
    context = SinkContext("r", "routes.r.destination", KeteRenderer(ComponentConfig(), {}), SERIALIZER)
    return KafkaSink(KafkaSinkConfig.model_validate(canonical(dotted)), context)


def message(raw: dict) -> Message:
    event = parse_event(raw)
    return Message(event, SERIALIZER.serialize(event), SERIALIZER.content_type)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.kafka
async def test_records_carry_key_headers_and_payload(any_kafka, kafka_topic, kt):
    sink = make_sink(**{
        "bootstrap.servers": any_kafka.bootstrap_servers,
        "topic": kafka_topic + "-${kindKebabCase}",
        "headers.origin": "kete-${realmUpperCase}",
        "headers.contenttype": "ignored: kete sets it",
    })  # fmt: skip
    batch = [message(raw) for raw in kt.make_events(10)]
    assert await send_once(sink, batch) is None
    records = kt.read_topics(
        any_kafka.client_config(), [f"{kafka_topic}-event", f"{kafka_topic}-admin-event"], count=10
    )
    assert sorted(record.value for record in records) == sorted(m.payload for m in batch)
    for record in records:
        event = parse_event(orjson.loads(record.value))
        assert record.topic == f"{kafka_topic}-{'admin-event' if event.kind == 'ADMIN_EVENT' else 'event'}"
        assert record.key == event.event_type.encode()
        assert record.header_map == {
            "origin": f"kete-{event.realm.upper()}".encode(),
            "eventkind": event.kind.encode(),
            "eventtype": event.event_type.encode(),
            "contenttype": b"application/json",
        }


@pytest.mark.kafka
async def test_bad_messages_fail_alone(any_kafka, kafka_topic, kt):
    sink = make_sink(**{
        "bootstrap.servers": any_kafka.bootstrap_servers,
        "topic": kafka_topic + "-${realmLowerCase}",
        "key": "",
        "message.max.bytes": 20000,
    })  # fmt: skip
    good = kt.make_events(6, realms=["acme"])
    bad_realm = {**good[0], "id": "bad-realm", "realmName": "acme corp"}
    too_big = {**good[1], "id": "too-big", "details": {"blob": "x" * 30000}}
    unresolved = {**good[2], "id": "no-realm", "realmName": None, "realmId": None}
    batch = [message(raw) for raw in [good[0], bad_realm, good[1], too_big, unresolved, *good[2:]]]
    results = await send_once(sink, batch)
    assert results is not None
    outcome = {m.event.id: result for m, result in zip(batch, results, strict=True)}
    assert isinstance(outcome.pop("bad-realm"), PermanentError)
    assert "not a legal Kafka topic name" in str(results[1])
    assert "MSG_SIZE_TOO_LARGE" in str(outcome.pop("too-big"))
    assert (
        str(outcome["no-realm"])
        == f"'{kafka_topic}-${{realmLowerCase}}': ${{realmLowerCase}} has no value for this event"
    )
    assert isinstance(outcome.pop("no-realm"), RenderError)
    assert set(outcome.values()) == {None}
    records = kt.read_topics(any_kafka.client_config(), [f"{kafka_topic}-acme"], count=6)
    assert sorted(orjson.loads(record.value)["id"] for record in records) == sorted(raw["id"] for raw in good)
    assert {record.key for record in records} == {None}


@pytest.mark.kafka
async def test_a_key_with_no_value_for_an_event_fails_that_event(any_kafka, kafka_topic, kt):
    sink = make_sink(**{
        "bootstrap.servers": any_kafka.bootstrap_servers,
        "topic": kafka_topic,
        "key": "${resourceTypeLowerCase}",
        "headers.operation": "${operationTypeLowerCase}",
    })  # fmt: skip
    user = message({"id": "u", "type": "LOGIN", "realmName": "acme"})
    admin = message({"id": "a", "resourceType": "USER", "operationType": "CREATE", "realmName": "acme"})
    results = await send_once(sink, [user, admin])
    assert results is not None and isinstance(results[0], RenderError) and results[1] is None
    (record,) = kt.read_topics(any_kafka.client_config(), [kafka_topic], count=1)
    assert record.key == b"user" and ("operation", b"create") in record.headers


async def test_unreachable_cluster_is_unavailable_not_a_failure():
    sink = make_sink(**{
        "bootstrap.servers": f"127.0.0.1:{free_port()}",
        "topic": "t",
        "connect-timeout": "1s",
        "message.timeout.ms": 1500,
    })  # fmt: skip
    started = time.monotonic()
    with pytest.raises(Unavailable, match=r"cannot reach Kafka at 127\.0\.0\.1:"):
        await sink.start()
    assert time.monotonic() - started < 5
    with pytest.raises(Unavailable, match=r"Connection refused|_TRANSPORT|ALL_BROKERS_DOWN"):
        await sink.send([message({"type": "LOGIN", "realmName": "acme"})])
    await sink.close()


async def test_send_without_start_finds_an_outage_by_delivery_reports():
    sink = make_sink(**{"bootstrap.servers": f"127.0.0.1:{free_port()}", "topic": "t", "message.timeout.ms": 1500})
    started = time.monotonic()
    with pytest.raises(Unavailable):
        await sink.send([message({"type": "LOGIN", "realmName": "acme"})])
    assert time.monotonic() - started < 5
    await sink.close()


@pytest.mark.kafka
async def test_missing_topic_is_the_event_s_problem_not_an_outage(any_kafka, kafka_topic, kt):
    sink = make_sink(**{
        "bootstrap.servers": any_kafka.bootstrap_servers,
        "topic": kafka_topic + "-${realmLowerCase}",
        "allow.auto.create.topics": False,
        "message.timeout.ms": 1500,
    })  # fmt: skip
    kt.create_topic(any_kafka.client_config(), f"{kafka_topic}-acme", 1)
    batch = [message(raw) for raw in kt.make_events(4, realms=["acme", "nowhere"])]
    results = await send_once(sink, batch)
    assert results is not None
    assert [result is None for result in results] == [True, False, True, False]
    assert f"topic '{kafka_topic}-nowhere' does not exist" in str(results[1])
    assert not isinstance(results[1], PermanentError)  # retried as the route says: it may be created
