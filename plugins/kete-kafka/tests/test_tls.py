"""The Kafka sink and source over TLS against a real Apache Kafka broker that requires client certificates.

The broker's SSL listener serves a certificate of kete's test CA (``kete_core.tls.testing.Pki``) and accepts
only clients with a certificate of that CA. Stores come in the formats Java users have: JKS and PKCS#12 made
by the JDK's keytool, and PKCS#12 made by ``cryptography``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from kete_kafka.settings import KafkaSinkConfig
from kete_kafka.sink import KafkaSink

from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.builtins.kete_renderer import KeteRenderer
from kete_core.config.tree import canonical
from kete_core.contracts import ComponentConfig, SinkContext
from kete_core.errors import ConfigErrors, Unavailable
from kete_core.testing import read_jsonl, run_kete, write_jsonl
from kete_core.tls.testing import Pki
from tests.services.kafka_broker import BrokerUnavailable, KafkaBroker

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(shutil.which("keytool") is None, reason="needs the JDK's keytool"),
]


@pytest.fixture(scope="session")
def mtls_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KafkaBroker, Pki]]:
    """A broker whose SSL listener requires a client certificate of the test CA; PLAINTEXT stays open for
    the tests' own clients."""
    pki = Pki(tmp_path_factory.mktemp("kafka-pki"), hosts=("127.0.0.1", "localhost"))
    keystore = pki.write("broker-keystore.pem", pki.server.pem())
    broker = KafkaBroker(
        tmp_path_factory.mktemp("kafka-mtls"),
        heap="256m",
        properties={
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(pki.ca_file),
            "ssl.client.auth": "required",
        },
    )
    try:
        broker.start()
    except BrokerUnavailable as exc:
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"CI=true, so Kafka tests must run, but: {exc}", pytrace=False)
        pytest.skip(str(exc))
    if not broker.tls:
        broker.stop()
        pytest.skip("the broker has no TLS listeners (no openssl)")
    try:
        yield broker, pki
    finally:
        broker.stop()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _toml(prefix: str, value) -> list[str]:
    if isinstance(value, dict):
        return [line for key, item in value.items() for line in _toml(f"{prefix}.{key}", item)]
    return [f"{prefix} = {json.dumps(value)}"]


def _config(tmp_path: Path, *lines: str) -> Path:
    """A kete.toml of *lines*, its data kept under *tmp_path*."""
    config = tmp_path / "kete.toml"
    config.write_text("\n".join(["[kete]", f'data-dir = "{tmp_path / "data"}"', *lines]) + "\n")
    return config


def _stores(pki: Pki) -> dict[str, dict]:
    """A JKS trust store and a PKCS#12 key store as Java users have them, and the reverse."""
    return {
        "jks-trust": {"loader": {"kind": "jks-file-base64",
                                 "base64": _b64(pki.keytool_store("JKS", key=False, password="trust-me"))},
                      "password": "trust-me", "type": "JKS"},
        "p12-key": pki.store("pkcs12-file-path", key=True, password="p12-pass"),
        "p12-trust": {"loader": {"kind": "pkcs12-file-path",
                                 "path": str(pki.write("trust.p12", pki.keytool_store("PKCS12", key=False,
                                                                                      password="changeit")))}},
        "jks-key": {"loader": {"kind": "jks-file-path",
                               "path": str(pki.write("client.jks", pki.keytool_store(
                                   "JKS", key=True, password="store-pass", key_password="key-pass")))},
                    "password": "store-pass", "key-password": "key-pass"},
    }  # fmt: skip


def test_sink_over_mutual_tls_with_a_jks_trust_store_and_a_pkcs12_key_store(mtls_kafka, kafka_topic, kt, tmp_path):
    broker, pki = mtls_kafka
    stores = _stores(pki)
    events = kt.make_events(30)
    write_jsonl(tmp_path / "events.jsonl", events)
    tls = {"enabled": True, "trust-store": stores["jks-trust"], "key-store": stores["p12-key"]}
    config = _config(
        tmp_path,
        '[sources.replay]\nkind = "file"\npath = "events.jsonl"',
        "[routes.kafka.destination]",
        'kind = "kafka"',
        f'bootstrap.servers = "{broker.ssl_bootstrap_servers}"',
        f'topic = "{kafka_topic}"',
        *_toml("tls", tls),
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = kt.read_topics(broker.client_config(), [kafka_topic], count=30)
    assert sorted(orjson.loads(record.value)["id"] for record in records) == sorted(e["id"] for e in events)
    assert "p12-pass" not in result.stderr


def test_source_over_mutual_tls_with_a_jks_key_store_and_a_java_pkcs12_trust_store(
    mtls_kafka, kafka_topic, kt, spawn_kete, tmp_path
):
    broker, pki = mtls_kafka
    stores = _stores(pki)
    events = kt.make_events(25)
    kt.produce(broker.client_config(), kafka_topic, [orjson.dumps(event) for event in events])
    out = tmp_path / "out.jsonl"
    tls = {"enabled": True, "trust-store": stores["p12-trust"], "key-store": stores["jks-key"]}
    config = _config(
        tmp_path,
        "[sources.kafka]",
        'kind = "kafka"',
        f'bootstrap.servers = "{broker.ssl_bootstrap_servers}"',
        f'topics = ["{kafka_topic}"]',
        'group.id = "kete-tls"',
        'auto.offset.reset = "earliest"',
        *_toml("tls", tls),
        f'[routes.all.destination]\nkind = "file"\npath = "{out}"',
    )
    kete = spawn_kete(config)
    deadline = time.monotonic() + 60
    while not (out.exists() and len(read_jsonl(out)) >= len(events)):
        assert kete.proc.poll() is None, kete.log
        assert time.monotonic() < deadline, kete.log
        time.sleep(0.2)
    assert kete.stop() == 0, kete.log
    assert sorted(record["id"] for record in read_jsonl(out)) == sorted(event["id"] for event in events)


def _sink(broker: KafkaBroker, tls: dict) -> KafkaSink:
    serializer = JsonSerializer(ComponentConfig())
    context = SinkContext("r", "routes.r.destination", KeteRenderer(ComponentConfig(), {}), serializer)
    settings = canonical({"bootstrap.servers": broker.ssl_bootstrap_servers, "topic": "t", "connect-timeout": "3s"})
    return KafkaSink(KafkaSinkConfig.model_validate({**settings, "tls": tls}), context)


async def test_the_broker_refuses_a_client_without_a_certificate(mtls_kafka):
    broker, pki = mtls_kafka
    stores = _stores(pki)
    anonymous = _sink(broker, {"enabled": True, "trust-store": stores["jks-trust"]})
    with pytest.raises(Unavailable):
        await anonymous.start()
    await anonymous.close()
    known = _sink(broker, {"enabled": True, "trust-store": stores["jks-trust"], "key-store": stores["p12-key"]})
    await known.start()
    await known.close()


async def test_a_broker_certificate_from_an_untrusted_ca_is_refused(mtls_kafka, tmp_path: Path):
    broker, pki = mtls_kafka
    other = Pki(tmp_path / "other")  # a CA the broker's certificate does not come from
    untrusting = _sink(broker, {"enabled": True, "trust-store": other.store("pem-file-path", key=False),
                                "key-store": pki.store("pem-file-base64", key=True)})  # fmt: skip
    with pytest.raises(Unavailable):
        await untrusting.start()
    await untrusting.close()


def test_java_client_store_settings_are_read_by_kete(mtls_kafka, kafka_topic, kt, tmp_path):
    """A KETE configuration written for the Java client (``ssl.truststore.*``, ``ssl.keystore.*`` with JKS
    files) delivers over mutual TLS: kete reads the stores and hands librdkafka PEM."""
    broker, pki = mtls_kafka
    trust = pki.write("java-trust.jks", pki.keytool_store("JKS", key=False, password="trust-me"))
    keys = pki.write(
        "java-keys.jks", pki.keytool_store("JKS", key=True, password="store-pass", key_password="key-pass")
    )
    events = kt.make_events(10)
    write_jsonl(tmp_path / "events.jsonl", events)
    config = _config(
        tmp_path,
        '[sources.replay]\nkind = "file"\npath = "events.jsonl"',
        "[routes.kafka.destination]",
        'kind = "kafka"',
        f'bootstrap.servers = "{broker.ssl_bootstrap_servers}"',
        f'topic = "{kafka_topic}"',
        'security.protocol = "SSL"',
        f'ssl.truststore.location = "{trust}"',
        'ssl.truststore.password = "trust-me"',
        'ssl.truststore.type = "JKS"',
        f'ssl.keystore.location = "{keys}"',
        'ssl.keystore.password = "store-pass"',
        'ssl.key.password = "key-pass"',
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    records = kt.read_topics(broker.client_config(), [kafka_topic], count=10)
    assert sorted(orjson.loads(record.value)["id"] for record in records) == sorted(e["id"] for e in events)


def test_java_client_store_errors_name_the_java_setting(tmp_path):
    pki = Pki(tmp_path / "pki")
    p12 = pki.write("keys.p12", pki.store_bytes("pkcs12", key=True, password="right-one"))
    settings = {
        "bootstrap.servers": "127.0.0.1:9", "topic": "t", "security.protocol": "SSL",
        "ssl.truststore.location": str(tmp_path / "missing.jks"),
        "ssl.keystore.location": str(p12), "ssl.keystore.password": "wrong-one",
    }  # fmt: skip
    serializer = JsonSerializer(ComponentConfig())
    context = SinkContext("r", "routes.r.destination", KeteRenderer(ComponentConfig(), {}), serializer)
    with pytest.raises(ConfigErrors) as caught:
        KafkaSink(KafkaSinkConfig.model_validate(canonical(settings)), context)
    found = {error.path: error.message for error in caught.value.errors}
    assert set(found) == {"routes.r.destination.ssl.truststore.location", "routes.r.destination.ssl.keystore.password"}
    assert "No such file" in found["routes.r.destination.ssl.truststore.location"]
    assert "wrong password" in found["routes.r.destination.ssl.keystore.password"]
    assert "right-one" not in str(caught.value) and "wrong-one" not in str(caught.value)
