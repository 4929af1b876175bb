"""Settings of the Kafka sink and source: defaults, Java-client translations, TLS, and clear errors
at load (no broker needed)."""

from __future__ import annotations

import base64
import shutil
import textwrap
from pathlib import Path

import pytest
from kete_kafka.settings import KafkaSinkConfig, KafkaSourceConfig
from kete_kafka.sink import KafkaSink
from kete_kafka.source import KafkaSource

from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.builtins.kete_renderer import KeteRenderer
from kete_core.config.tree import canonical
from kete_core.contracts import ComponentConfig, SinkContext
from kete_core.errors import ConfigError, ConfigErrors
from kete_core.testing import run_kete
from tests.services.kafka_broker import make_test_pki

BASE = {"bootstrap.servers": "127.0.0.1:9", "topic": "events"}


def sink(**dotted) -> KafkaSink:
    """A Kafka sink from settings written as in TOML with quoted dotted keys."""
    tree = canonical({**BASE, **dotted})
    context = SinkContext(
        route="r",
        path="routes.r.destination",
        renderer=KeteRenderer(ComponentConfig(), {}),
        serializer=JsonSerializer(ComponentConfig()),
    )
    return KafkaSink(KafkaSinkConfig.model_validate(tree), context)


def errors(**dotted) -> dict[str, str]:
    """Config path → message of every error a sink with these settings reports."""
    with pytest.raises(ConfigErrors) as caught:
        sink(**dotted)
    return {error.path: str(error) for error in caught.value.errors}


def test_defaults_are_the_originals():
    settings = sink().settings
    assert settings["bootstrap.servers"] == "127.0.0.1:9"
    assert settings["acks"] == "all"
    assert settings["enable.idempotence"] == "true"
    assert settings["compression.type"] == "lz4"
    assert settings["linger.ms"] == "5"
    assert settings["batch.size"] == "32768"
    assert settings["max.in.flight.requests.per.connection"] == "5"
    assert settings["partitioner"] == "murmur2_random"
    assert "topic" not in settings


def test_acks_set_means_no_implicit_idempotence():
    settings = sink(acks="1").settings
    assert settings["acks"] == "1"
    assert "enable.idempotence" not in settings


def test_other_settings_pass_through_to_the_producer():
    settings = sink(**{"linger.ms": 20, "client.id": "kete-1", "enable.idempotence": False, "acks": "all"}).settings
    assert settings["linger.ms"] == "20"
    assert settings["client.id"] == "kete-1"
    assert settings["enable.idempotence"] == "false"


def test_nested_and_quoted_dotted_keys_mean_the_same():
    nested = sink(bootstrap={"servers": "a:1,b:2"}).settings
    assert nested["bootstrap.servers"] == "a:1,b:2"
    listed = sink(**{"bootstrap.servers": ["a:1", "b:2"]}).settings
    assert listed["bootstrap.servers"] == "a:1,b:2"


def test_java_settings_are_translated():
    jaas = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="kete" password="s3cr\\"et";'
    settings = sink(**{
        "key.serializer": "org.apache.kafka.common.serialization.StringSerializer",
        "value.serializer": "org.apache.kafka.common.serialization.ByteArraySerializer",
        "buffer.memory": 33554432,
        "max.request.size": 2000000,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": jaas,
        "delivery.timeout.ms": 20000,
        "pool.max-total": 20,
    }).settings  # fmt: skip
    assert "key.serializer" not in settings and "value.serializer" not in settings
    assert settings["queue.buffering.max.kbytes"] == "32768"
    assert settings["message.max.bytes"] == "2000000"
    assert settings["sasl.username"] == "kete"
    assert settings["sasl.password"] == 's3cr"et'
    assert "sasl.jaas.config" not in settings
    assert settings["delivery.timeout.ms"] == "20000"
    assert "message.timeout.ms" not in settings  # an alias: kete's default must not override it
    assert not any(name.startswith("pool") for name in settings)


def test_plain_login_module_implies_the_plain_mechanism():
    jaas = 'io.github.fortunen.kete.shaded.org.apache.kafka.common.security.plain.PlainLoginModule required username=u password="p";'
    settings = sink(**{"sasl.jaas.config": jaas, "security.protocol": "SASL_PLAINTEXT"}).settings
    assert (settings["sasl.mechanism"], settings["sasl.username"], settings["sasl.password"]) == ("PLAIN", "u", "p")


def test_everything_wrong_is_reported_at_once_naming_each_setting():
    found = errors(**{
        "key.serializer": "io.confluent.kafka.serializers.KafkaAvroSerializer",
        "transactional.id": "tx-1",
        "no.such.setting": 1,
        "group.id": "consumers-only",
        "max.block.ms": 1000,
        "acks": "most",
        "sasl.jaas.config": "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;",
    })  # fmt: skip
    prefix = "routes.r.destination."
    assert set(found) == {
        prefix + name
        for name in (
            "key.serializer", "transactional.id", "no.such.setting", "group.id", "max.block.ms", "acks",
            "sasl.jaas.config",
        )
    }  # fmt: skip
    assert "KafkaAvroSerializer' cannot be used" in found[prefix + "key.serializer"]
    assert "transactions are not supported" in found[prefix + "transactional.id"]
    assert "'no.such.setting' is not a librdkafka producer setting" in found[prefix + "no.such.setting"]
    assert "consumer setting; this producer would ignore it" in found[prefix + "group.id"]
    assert "no librdkafka equivalent" in found[prefix + "max.block.ms"]
    assert "acks = 'most'" in found[prefix + "acks"]
    assert "Krb5LoginModule' cannot be translated" in found[prefix + "sasl.jaas.config"]


def test_missing_bootstrap_servers():
    tree = canonical({"topic": "t"})
    context = SinkContext(
        "r", "routes.r.destination", KeteRenderer(ComponentConfig(), {}), JsonSerializer(ComponentConfig())
    )
    with pytest.raises(ConfigErrors) as caught:
        KafkaSink(KafkaSinkConfig.model_validate(tree), context)
    assert [error.path for error in caught.value.errors] == ["routes.r.destination.bootstrap.servers"]


def test_secrets_never_appear_in_errors():
    found = errors(**{"sasl.password": "hunter2-secret", "sasl.username": "u", "compression.type": "hunter2-secret"})
    assert found, "compression.type is invalid"
    assert all("hunter2-secret" not in message for message in found.values())


def test_unknown_template_variable_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        sink(topic="kete-${realmLowercase}")
    assert caught.value.path == "routes.r.destination.topic"
    assert "realmLowerCase" in str(caught.value)


def test_reserved_headers_are_kete_s():
    made = sink(headers={"eventtype": "mine", "team": "iam-${realmLowerCase}", "blank": "  "})
    assert [name for name, _ in made.custom_headers] == ["team"]


def test_kete_encoding_keys_are_accepted_and_not_applied(caplog):
    # KETE's kafka destination accepts content-encoding/-transfer-encoding and leaves records as
    # serialized; they never reach librdkafka (which would refuse them as unknown settings).
    made = sink(**{"content-encoding": "gzip", "content-transfer-encoding": "base64"})
    assert "content-encoding" not in made.settings and "content-transfer-encoding" not in made.settings
    assert "not applied to Kafka records, as in KETE" in caplog.text


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(CA certificate, key store with a key and its certificate chain), all PEM."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    return make_test_pki(tmp_path_factory.mktemp("pki"))


def test_tls_block_becomes_ssl_settings(pki: tuple[Path, Path]):
    ca, _ = pki
    settings = sink(**{
        "tls.enabled": True,
        "tls.trust-store.loader.kind": "pem-file-path",
        "tls.trust-store.loader.path": str(ca),
    }).settings  # fmt: skip
    assert settings["security.protocol"] == "SSL"
    # the configured CA first, then the system's CAs, as KETE adds the JVM's
    assert settings["ssl.ca.pem"].startswith(ca.read_text())
    assert settings["ssl.ca.pem"].count("BEGIN CERTIFICATE") > 1
    assert settings["ssl.endpoint.identification.algorithm"] == "https"


def test_tls_with_sasl_der_trust_store_and_pem_key_store(pki: tuple[Path, Path]):
    ca, keystore = pki
    der = base64.b64decode("".join(ca.read_text().strip().splitlines()[1:-1]))
    settings = sink(**{
        "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "u", "sasl.password": "p",
        "tls.enabled": True, "tls.verify-hostname": False,
        "tls.trust-store.loader.kind": "der-file-base64",
        "tls.trust-store.loader.base64": base64.b64encode(der).decode(),
        "tls.key-store.loader.kind": "pem-file-text", "tls.key-store.loader.text": keystore.read_text(),
    }).settings  # fmt: skip
    assert settings["security.protocol"] == "SASL_SSL"
    assert settings["ssl.endpoint.identification.algorithm"] == "none"
    assert settings["ssl.ca.pem"].startswith(ca.read_text())
    assert settings["ssl.certificate.pem"].count("BEGIN CERTIFICATE") == 2
    assert "PRIVATE KEY" in settings["ssl.key.pem"]


def test_bad_certificate_material_is_a_config_error(tmp_path: Path):
    fake = tmp_path / "ca.pem"
    fake.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    found = errors(**{
        "tls.enabled": True,
        "tls.trust-store.loader.kind": "pem-file-path",
        "tls.trust-store.loader.path": str(fake),
    })  # fmt: skip
    assert list(found) == ["routes.r.destination.tls.trust-store.loader"]
    assert "a CERTIFICATE block cannot be read" in found["routes.r.destination.tls.trust-store.loader"]


def test_tls_problems(tmp_path: Path):
    found = errors(**{
        "tls.enabled": True,
        "security.protocol": "PLAINTEXT",
        "tls.version": "TLSv1.3",
        "tls.trust-store.loader.kind": "jks-file-path",
        "tls.trust-store.loader.path": str(tmp_path / "x.jks"),
        "tls.trust-store.trust-manager-algorithm": "PKIX",
    })  # fmt: skip
    prefix = "routes.r.destination."
    assert set(found) == {prefix + "security.protocol", prefix + "tls.trust-store.loader.path"}
    assert "No such file" in found[prefix + "tls.trust-store.loader.path"]


def test_missing_files_are_named(tmp_path: Path):
    found = errors(**{"security.protocol": "SSL", "ssl.ca.location": str(tmp_path / "nope.pem")})
    assert list(found) == ["routes.r.destination.ssl.ca.location"]
    assert "no such file" in found["routes.r.destination.ssl.ca.location"]


def source(**dotted) -> KafkaSource:
    tree = canonical({"bootstrap.servers": "127.0.0.1:9", "group.id": "g", "topics": ["in"], **dotted})
    return KafkaSource("k", KafkaSourceConfig.model_validate(tree))


def test_source_settings():
    made = source(**{"session.timeout.ms": 6000, "topics": "a, b"})
    assert made.config.topics == ["a", "b"]
    assert made.settings["enable.auto.commit"] == "false"
    assert made.settings["auto.offset.reset"] == "earliest"
    assert made.settings["session.timeout.ms"] == "6000"


def test_source_problems():
    tree = canonical({"bootstrap.servers": "127.0.0.1:9", "topics": ["ok", "not ok!"], "enable.auto.commit": True})
    tree["linger"] = {"ms": 5}
    with pytest.raises(ConfigErrors) as caught:
        KafkaSource("k", KafkaSourceConfig.model_validate(tree))
    found = {error.path: str(error) for error in caught.value.errors}
    assert set(found) == {
        "sources.k.group.id",
        "sources.k.topics.1",
        "sources.k.enable.auto.commit",
        "sources.k.linger.ms",
    }
    assert "producer setting; this consumer would ignore it" in found["sources.k.linger.ms"]


def test_kete_check_reports_without_secrets(tmp_path: Path):
    config = tmp_path / "kete.toml"
    config.write_text(
        textwrap.dedent("""
        [sources.replay]
        kind = "file"
        path = "events.jsonl"

        [routes.r.destination]
        kind = "kafka"
        bootstrap.servers = "127.0.0.1:9"
        topic = "events-${realmLowerCase}"
        sasl.username = "kete"
        sasl.password = "very-secret-password"
        "sasl.jaas.config" = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="very-secret-password";'
        "compression.type" = "zip"
        """)
    )
    result = run_kete("check", str(config))
    assert result.returncode == 2, result.stderr
    assert "very-secret-password" not in result.stderr + result.stdout
    assert "routes.r.destination.compression.type: librdkafka rejects compression.type = 'zip'" in result.stderr
    assert (
        "routes.r.destination.sasl.jaas.config: sets 'sasl.password', which 'sasl.password' sets too" in result.stderr
    )
