"""``kete run`` from a file source to Kafka, read back with a consumer, on both brokers."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import orjson
import pytest

from kete_core.event import parse_event
from kete_core.testing import read_jsonl, run_kete, write_jsonl

pytestmark = pytest.mark.kafka


def realm_names_toml(names: dict[str, str]) -> str:
    return "\n".join(f'realm-names."{realm_id}" = "{name}"' for realm_id, name in names.items())


def test_file_to_kafka_topics_keys_headers_payloads(any_kafka, kafka_topic, kt, tmp_path: Path):
    events, names = kt.example_events()
    write_jsonl(tmp_path / "events.jsonl", events)
    config = tmp_path / "kete.toml"
    config.write_text(
        textwrap.dedent(f"""
        [kete]
        data-dir = "{tmp_path / "data"}"

        [sources.replay]
        kind = "file"
        path = "events.jsonl"
        """)
        + realm_names_toml(names)
        + textwrap.dedent(f"""

        [routes.by-realm.destination]
        kind = "kafka"
        bootstrap.servers = "{any_kafka.bootstrap_servers}"
        topic = "{kafka_topic}.realm.${{realmKebabCase}}"
        headers.pipeline = "kete"

        [routes.by-kind]
        event-matchers.all = "glob:*"
        destination.kind = "kafka"
        destination."bootstrap.servers" = "{any_kafka.bootstrap_servers}"
        destination.topic = "{kafka_topic}.kind.${{kindKebabCase}}"
        destination.key = "${{realmLowerCase}}"
        destination."linger.ms" = 20
        """)
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{len(events)} events received, 0 rejected" in result.stderr

    parsed = [parse_event(raw, names) for raw in events]
    realms = sorted({event.realm for event in parsed})
    assert realms == ["acme", "acme-staging", "master", "partner_portal"]
    config_ = any_kafka.client_config()
    by_realm = kt.read_topics(
        config_, [f"{kafka_topic}.realm.{realm.replace('_', '-')}" for realm in realms], count=len(events)
    )
    by_kind = kt.read_topics(
        config_, [f"{kafka_topic}.kind.event", f"{kafka_topic}.kind.admin-event"], count=len(events)
    )

    def expected(event, topic: str, key: bytes, extra: dict[str, bytes]) -> tuple:
        headers = {
            **extra,
            "eventkind": event.kind.encode(),
            "eventtype": event.event_type.encode(),
            "contenttype": b"application/json",
        }
        return topic, key, tuple(sorted(headers.items())), orjson.dumps(event.to_kete())

    want_realm = Counter(
        expected(
            event,
            f"{kafka_topic}.realm.{event.realm.replace('_', '-')}",
            event.event_type.encode(),
            {"pipeline": b"kete"},
        )
        for event in parsed
    )
    want_kind = Counter(
        expected(
            event,
            f"{kafka_topic}.kind.{'admin-event' if event.kind == 'ADMIN_EVENT' else 'event'}",
            event.realm.lower().encode(),
            {},
        )
        for event in parsed
    )

    def got(records) -> Counter:
        return Counter((r.topic, r.key, tuple(sorted(r.header_map.items())), r.value) for r in records)

    assert got(by_realm) == want_realm
    assert got(by_kind) == want_kind
    # The payload is the KETE JSON: realm names filled in, KETE's keys in KETE's order.
    first = orjson.loads(next(r.value for r in by_realm if orjson.loads(r.value)["id"] == events[0]["id"]))
    assert list(first)[:5] == ["id", "time", "type", "realmId", "realmName"]
    assert first["realmName"] == names[events[0]["realmId"]]


def test_bad_topic_template_dead_letters_only_the_bad_events(any_kafka, kafka_topic, kt, tmp_path: Path):
    good = kt.make_events(20, realms=["acme", "beta"])
    bad = [{**good[0], "id": "bad-1", "realmName": "ACME Corp"}, {**good[1], "id": "bad-2", "realmName": "a/b"}]
    write_jsonl(tmp_path / "events.jsonl", [*good[:10], *bad, *good[10:]])
    config = tmp_path / "kete.toml"
    config.write_text(
        textwrap.dedent(f"""
        [kete]
        data-dir = "{tmp_path / "data"}"

        [sources.replay]
        kind = "file"
        path = "events.jsonl"

        [routes.kafka]
        retry.wait-duration = "10ms"
        destination.kind = "kafka"
        destination.bootstrap.servers = "{any_kafka.bootstrap_servers}"
        destination.topic = "{kafka_topic}-${{realmLowerCase}}"
        """)
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # some events could not be delivered
    assert "22 events received, 0 rejected; route kafka: 22 matched, 20 delivered, 2 failed" in result.stderr
    assert "not a legal Kafka topic name" in result.stderr
    records = kt.read_topics(any_kafka.client_config(), [f"{kafka_topic}-acme", f"{kafka_topic}-beta"], count=20)
    assert sorted(orjson.loads(r.value)["id"] for r in records) == sorted(e["id"] for e in good)
    letters = {
        letter["event"]["id"]: letter for letter in read_jsonl(tmp_path / "data" / "dead-letters" / "kafka.jsonl")
    }
    assert sorted(letters) == ["bad-1", "bad-2"]
    assert letters["bad-1"]["error"] == (
        f"PermanentError: rendered topic '{kafka_topic}-acme corp' is not a legal Kafka topic name: "
        "the topic name contains ' '; Kafka allows only [a-zA-Z0-9._-]"
    )
    assert "contains '/'" in letters["bad-2"]["error"]
    assert {letter["attempts"] for letter in letters.values()} == {1}  # permanent: not retried


def test_unknown_template_variable_fails_the_check(any_kafka, kafka_topic, tmp_path: Path):
    config = tmp_path / "kete.toml"
    config.write_text(
        textwrap.dedent(f"""
        [sources.replay]
        kind = "file"
        path = "events.jsonl"

        [routes.kafka.destination]
        kind = "kafka"
        bootstrap.servers = "{any_kafka.bootstrap_servers}"
        topic = "{kafka_topic}-${{realmname}}"
        """)
    )
    result = run_kete("check", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "routes.kafka.destination.topic: unknown template variable '${realmname}'" in result.stderr
