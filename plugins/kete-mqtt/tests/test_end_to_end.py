"""``kete run`` on events from a file, publishing to Mosquitto, each message read back by an independent
paho subscriber: topics, MQTT 5 user properties, both protocol versions, TLS, a wrong password, and the
broker stopped and started again mid-run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from kete_core.testing import admin_event, replay_config, replay_properties, run_kete, user_event, write_jsonl
from kete_core.testing.services import free_ports, restored
from tests.services.waiting import not_ready, ready

pytestmark = pytest.mark.mqtt


def events(count: int, *, start: int = 0) -> list[dict]:
    """*count* events with unique ids: user events in realms acme and Master, every fourth an admin event."""
    made = []
    for number in range(start, start + count):
        realm = "acme" if number % 2 else "Master"
        made.append(admin_event(number, realm=realm) if number % 4 == 3 else user_event(number, realm=realm))
    return made


def config_file(tmp_path: Path, destination: dict, **options: Any) -> Path:
    return replay_config(tmp_path, destination, route="mqtt", **options)


def ids(messages) -> list[str]:
    return [orjson.loads(message.payload)["id"] for message in messages]


def test_mqtt_5_every_event_with_its_topic_and_user_properties(mosquitto, subscribe, topic_root, tmp_path):
    sent = events(40)
    write_jsonl(tmp_path / "events.jsonl", sent)
    subscriber = subscribe(f"{topic_root}/#")
    config = config_file(
        tmp_path,
        {
            "kind": "mqtt-5",
            "host": "127.0.0.1",
            "port": mosquitto.port,
            "topic": topic_root + "/${realmLowerCase}/${kindLowerCase}",
            "headers": {"x-source": "keycloak", "x-realm": "${realmLowerCase}", "eventtype": "not kete's to set"},
            "message-expiry-seconds": 3600,
        },
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "40 delivered, 0 failed" in result.stderr
    got = subscriber.wait_for(lambda got: len(got) >= 40)
    assert ids(got) == [event["id"] for event in sent]  # one connection, QoS 1: in order
    for event, message in zip(sent, got, strict=True):
        realm = event["realmName"].lower()
        admin = "resourceType" in event
        assert message.topic == f"{topic_root}/{realm}/{'admin_event' if admin else 'event'}"
        assert message.qos == 1 and not message.retain
        assert message.user_properties == [
            ("x-source", "keycloak"),
            ("x-realm", realm),
            ("eventkind", "ADMIN_EVENT" if admin else "EVENT"),
            ("eventtype", "USER_CREATE" if admin else "LOGIN"),
        ]
        assert message.content_type == "application/json"
        assert message.expiry is not None and 3590 <= message.expiry <= 3600
        assert orjson.loads(message.payload)["id"] == event["id"]


def test_mqtt_3_from_a_kete_properties_file_sends_the_payload_alone(mosquitto, subscribe, topic_root, tmp_path):
    sent = events(20)
    write_jsonl(tmp_path / "events.jsonl", sent)
    subscriber = subscribe(f"{topic_root}/#")
    config = replay_properties(
        tmp_path,
        "kete.routes.mosquitto.destination.kind=mqtt-3",
        "kete.routes.mosquitto.destination.host=127.0.0.1",
        f"kete.routes.mosquitto.destination.port={mosquitto.port}",
        f"kete.routes.mosquitto.destination.topic={topic_root}/" + "${realmLowerCase}/${eventTypeLowerCase}",
        "kete.routes.mosquitto.destination.qos=2",
        "kete.routes.mosquitto.destination.retained=false",
        "kete.routes.mosquitto.destination.clean-session=true",
        "kete.routes.mosquitto.destination.client-id-prefix=keycloak",
        "kete.routes.mosquitto.destination.keep-alive-interval-seconds=30",
        "kete.routes.mosquitto.destination.connection-timeout-seconds=5",
        "kete.routes.mosquitto.destination.max-inflight=100",
        "kete.routes.mosquitto.destination.headers.X-Source=keycloak",
        "kete.routes.mosquitto.destination.pool.max-total=20",
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "20 delivered, 0 failed" in result.stderr
    got = subscriber.wait_for(lambda got: len(got) >= 20)
    assert ids(got) == [event["id"] for event in sent]
    for event, message in zip(sent, got, strict=True):
        event_type = "user_create" if "resourceType" in event else "login"
        assert message.topic == f"{topic_root}/{event['realmName'].lower()}/{event_type}"
        assert message.user_properties == [] and message.content_type is None  # MQTT 3: the payload alone
        assert message.qos == 1  # the subscription's QoS caps what the subscriber gets


@pytest.mark.parametrize("kind", ["mqtt-3", "mqtt-5"])
def test_tls_with_the_ca_from_a_trust_store(kind, mosquitto, subscribe, topic_root, tmp_path):
    sent = events(10)
    write_jsonl(tmp_path / "events.jsonl", sent)
    subscriber = subscribe(f"{topic_root}/#")
    config = config_file(
        tmp_path,
        {
            "kind": kind,
            "host": "127.0.0.1",
            "port": mosquitto.tls_port,
            "topic": f"{topic_root}/secure",
            "tls": {"enabled": True, "trust-store": {"loader": {"kind": "pem-file-path", "path": mosquitto.ca_file}}},
        },
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"connected to the MQTT broker at ssl://127.0.0.1:{mosquitto.tls_port}" in result.stderr
    assert ids(subscriber.wait_for(lambda got: len(got) >= 10)) == [event["id"] for event in sent]


def test_tls_without_trusting_the_broker_is_unavailable_with_the_reason(mosquitto, spawn_kete, tmp_path):
    write_jsonl(tmp_path / "events.jsonl", events(5))
    config = config_file(
        tmp_path,
        {"kind": "mqtt-5", "host": "127.0.0.1", "port": mosquitto.tls_port, "topic": "t", "tls": {"enabled": True}},
    )
    kete = spawn_kete(config)
    kete.wait_for_log(
        "the destination is not available yet: Unavailable: cannot reach the MQTT broker at "
        f"ssl://127.0.0.1:{mosquitto.tls_port}: TLS: CERTIFICATE_VERIFY_FAILED"
    )
    assert kete.stop() == 1
    assert not (tmp_path / "data" / "dead-letters").exists()


def test_a_wrong_password_is_refused_with_a_clear_error(mosquitto, spawn_kete, tmp_path):
    write_jsonl(tmp_path / "events.jsonl", events(20))
    config = config_file(
        tmp_path,
        {
            "kind": "mqtt-5",
            "host": "127.0.0.1",
            "port": mosquitto.auth_port,
            "topic": "t",
            "username": mosquitto.username,
            "password": "not-the-password-42",
        },
    )
    kete = spawn_kete(config)
    kete.wait_for_log(
        "the destination is not available yet: Unavailable: the MQTT broker at "
        f"tcp://127.0.0.1:{mosquitto.auth_port} refused the connection: Not authorized"
    )
    assert kete.stop() == 1
    assert "not-the-password-42" not in kete.log
    assert "20 event(s) wait in the spool; they are delivered at the next start" in kete.log
    assert not (tmp_path / "data" / "dead-letters").exists()


def test_the_right_password(mosquitto, subscribe, topic_root, tmp_path):
    write_jsonl(tmp_path / "events.jsonl", events(5))
    subscriber = subscribe(f"{topic_root}/#")
    config = config_file(
        tmp_path,
        {
            "kind": "mqtt-3",
            "host": "127.0.0.1",
            "port": mosquitto.auth_port,
            "topic": f"{topic_root}/auth",
            "username": mosquitto.username,
            "password": mosquitto.password,
        },
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(subscriber.wait_for(lambda got: len(got) >= 5)) == 5


@pytest.fixture
def broker(mosquitto):
    """The session's Mosquitto, started again after the test whatever happened to it."""
    yield from restored(mosquitto)


@pytest.mark.parametrize("kind", ["mqtt-3", "mqtt-5"])
def test_broker_stopped_mid_run_loses_nothing(kind, broker, subscribe, topic_root, spawn_kete, tmp_path):
    source = tmp_path / "events.jsonl"
    write_jsonl(source, events(100))
    # A persistent session: what kete publishes before this subscriber is back is kept for it.
    subscriber = subscribe(f"{topic_root}/#", persistent=True)
    (metrics,) = free_ports(1)
    config = config_file(
        tmp_path,
        {
            "kind": kind,
            "host": "127.0.0.1",
            "port": broker.port,
            "topic": topic_root + "/${realmLowerCase}",
            "connection-timeout-seconds": 2,
        },
        follow=True,
        metrics_port=metrics,
    )
    kete = spawn_kete(config)
    subscriber.wait_for(lambda got: len(got) >= 100)
    broker.stop()
    with source.open("ab") as out:
        out.write(b"".join(orjson.dumps(event) + b"\n" for event in events(100, start=100)))
    kete.wait_for_log("destination unavailable, waiting for it", timeout=30)
    reasons = not_ready(metrics)
    assert f"MQTT broker at tcp://127.0.0.1:{broker.port}" in reasons["route mqtt"], reasons
    broker.start()
    with source.open("ab") as out:
        out.write(b"".join(orjson.dumps(event) + b"\n" for event in events(100, start=200)))
    wanted = {f"{'a' if n % 4 == 3 else 'e'}{n}" for n in range(300)}
    got = subscriber.wait_for(lambda got: wanted <= set(ids(got)), timeout=60)
    ready(metrics)
    assert kete.stop() == 0, kete.log
    missing = wanted - set(ids(got))
    print(f"broker restart mid-run: 300 events, {len(missing)} missing, {len(got) - len(set(ids(got)))} duplicates")
    assert not missing
    assert "destination available again" in kete.log
    assert not (tmp_path / "data" / "dead-letters").exists()


def test_retained_messages_reach_a_later_subscriber(mosquitto, subscribe, topic_root, tmp_path):
    sent = events(8)
    write_jsonl(tmp_path / "events.jsonl", sent)
    config = config_file(
        tmp_path,
        {
            "kind": "mqtt-5",
            "host": "127.0.0.1",
            "port": mosquitto.port,
            "topic": topic_root + "/${realmLowerCase}",
            "qos": 0,
            "retained": True,
        },
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # Subscribed after kete is done: the broker hands over each topic's last (retained) message.
    got = subscribe(f"{topic_root}/#").wait_for(lambda got: len(got) >= 2)
    last = {event["realmName"].lower(): event["id"] for event in sent}
    assert {message.topic.rsplit("/", 1)[1]: orjson.loads(message.payload)["id"] for message in got} == last
    assert all(message.retain for message in got)
