"""The Kafka sink against Apache Kafka when things go wrong: a broker that is down at start or
restarted mid-run, SCRAM and TLS, bad credentials. Each test leaves the session broker running."""

from __future__ import annotations

import textwrap
import tomllib
from collections import Counter
from pathlib import Path

import orjson
import pytest

from kete_core.testing import replay_config, run_kete, write_jsonl

pytestmark = pytest.mark.kafka


def config_file(tmp_path: Path, destination: str, *, follow: bool = False) -> Path:
    """:func:`replay_config` into the route ``kafka``, its destination's settings besides the kind written as TOML."""
    settings = tomllib.loads(textwrap.dedent(destination))
    return replay_config(tmp_path, {"kind": "kafka", **settings}, route="kafka", follow=follow)


def ids(records) -> Counter:
    return Counter(orjson.loads(record.value)["id"] for record in records)


@pytest.fixture
def broker(kafka_broker):
    """The Apache Kafka broker, started again after the test whatever happened to it."""
    try:
        yield kafka_broker
    finally:
        kafka_broker.start()


def test_broker_down_at_start_then_up(broker, kafka_topic, kt, spawn_kete, tmp_path: Path):
    events = kt.make_events(300)
    write_jsonl(tmp_path / "events.jsonl", events)
    config = config_file(
        tmp_path,
        f"""
        bootstrap.servers = "{broker.bootstrap_servers}"
        topic = "{kafka_topic}"
        connect-timeout = "1s"
        """,
    )
    broker.stop()
    kete = spawn_kete(config)
    kete.wait_for_log("the destination is not available yet: Unavailable: cannot reach Kafka at 127.0.0.1:")
    broker.start()
    assert kete.wait(90) == 0, kete.log
    assert "destination available again" in kete.log
    assert "300 delivered, 0 failed" in kete.log
    records = kt.read_topics(broker.client_config(), [kafka_topic], count=300)
    assert set(ids(records)) == {event["id"] for event in events}
    assert not (tmp_path / "data" / "dead-letters").exists()


def test_broker_restarted_mid_run_loses_nothing(broker, kafka_topic, kt, spawn_kete, tmp_path: Path):
    events = kt.make_events(3000)
    parts = [events[:1000], events[1000:2000], events[2000:]]
    source = tmp_path / "events.jsonl"
    write_jsonl(source, parts[0])
    config = config_file(
        tmp_path,
        f"""
        bootstrap.servers = "{broker.bootstrap_servers}"
        topic = "{kafka_topic}"
        "message.timeout.ms" = 3000
        """,
        follow=True,
    )
    kete = spawn_kete(config)
    client = broker.client_config()
    assert len(kt.read_topics(client, [kafka_topic], count=1000, timeout=60)) == 1000
    # Stopped while kete keeps reading: the sink finds the broker gone, kete spools and waits.
    broker.stop()
    with source.open("ab") as out:
        out.write(b"".join(orjson.dumps(event) + b"\n" for event in parts[1]))
    kete.wait_for_log("destination unavailable, waiting for it", timeout=60)
    broker.start()
    with source.open("ab") as out:
        out.write(b"".join(orjson.dumps(event) + b"\n" for event in parts[2]))
    wanted = {event["id"] for event in events}
    records = kt.read_topics(
        client, [kafka_topic], timeout=90, until=lambda got: wanted <= {orjson.loads(r.value)["id"] for r in got}
    )
    assert kete.stop() == 0, kete.log
    found = ids(records)
    missing = wanted - set(found)
    duplicates = sum(found.values()) - len(found)
    print(f"restart mid-run: {len(events)} events, {len(missing)} missing, {duplicates} duplicates")
    assert not missing
    assert "destination available again" in kete.log
    assert not (tmp_path / "data" / "dead-letters").exists()


def test_scram_with_kete_jaas_settings(kafka_broker, kafka_topic, kt, tmp_path: Path):
    events = kt.make_events(50)
    write_jsonl(tmp_path / "events.jsonl", events)
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{kafka_broker.scram_username}" password="{kafka_broker.scram_password}";'
    )
    config = config_file(
        tmp_path,
        f"""
        bootstrap.servers = "{kafka_broker.sasl_bootstrap_servers}"
        topic = "{kafka_topic}"
        security.protocol = "SASL_PLAINTEXT"
        sasl.mechanism = "SCRAM-SHA-512"
        "sasl.jaas.config" = '{jaas}'
        """,
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert kafka_broker.scram_password not in result.stderr
    records = kt.read_topics(kafka_broker.client_config(), [kafka_topic], count=50)
    assert set(ids(records)) == {event["id"] for event in events}


def test_scram_over_tls_with_kete_tls_block(kafka_broker, kafka_topic, kt, tmp_path: Path):
    if not kafka_broker.tls:
        pytest.skip("the broker has no TLS listeners (no openssl)")
    events = kt.make_events(50)
    write_jsonl(tmp_path / "events.jsonl", events)
    config = config_file(
        tmp_path,
        f"""
        bootstrap.servers = "{kafka_broker.sasl_ssl_bootstrap_servers}"
        topic = "{kafka_topic}"
        sasl.mechanism = "SCRAM-SHA-256"
        sasl.username = "{kafka_broker.scram_username}"
        sasl.password = "{kafka_broker.scram_password}"
        tls.enabled = true
        tls.trust-store.loader.kind = "pem-file-path"
        tls.trust-store.loader.path = "{kafka_broker.ca_file}"
        """,
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = kt.read_topics(kafka_broker.client_config(), [kafka_topic], count=50)
    assert set(ids(records)) == {event["id"] for event in events}


def test_bad_credentials_are_reported_and_nothing_is_dead_lettered(
    kafka_broker, kafka_topic, kt, spawn_kete, tmp_path: Path
):
    write_jsonl(tmp_path / "events.jsonl", kt.make_events(20))
    config = config_file(
        tmp_path,
        f"""
        bootstrap.servers = "{kafka_broker.sasl_bootstrap_servers}"
        topic = "{kafka_topic}"
        security.protocol = "SASL_PLAINTEXT"
        sasl.mechanism = "SCRAM-SHA-512"
        sasl.username = "{kafka_broker.scram_username}"
        sasl.password = "not-the-password-42"
        connect-timeout = "2s"
        """,
    )
    kete = spawn_kete(config)
    kete.wait_for_log(
        "the destination is not available yet: Unavailable: cannot reach Kafka at "
        f"{kafka_broker.sasl_bootstrap_servers}: _AUTHENTICATION: "
    )
    assert "Authentication failed during authentication due to invalid credentials with SASL mechanism" in kete.log
    assert kete.stop() == 1
    log = kete.log
    assert "not-the-password-42" not in log
    assert "20 event(s) wait in the spool; they are delivered at the next start" in log
    assert not (tmp_path / "data" / "dead-letters").exists()
