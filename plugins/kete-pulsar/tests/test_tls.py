"""kete's ``tls.*`` settings (KETE's keys) over ``pulsar+ssl://`` against the real broker's TLS port, which requires
a client certificate signed by the session's test CA: a KETE ``.properties`` configuration with a JKS trust store
and a PKCS#12 client certificate delivers every event; a server certificate kete does not trust, and a missing
client certificate, are each a clear error at start, with the events kept in the spool."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from kete_core.testing import run_kete, user_event, write_jsonl
from kete_core.tls.testing import Pki

pytestmark = pytest.mark.pulsar


def test_kete_tls_settings_deliver_over_pulsar_ssl_with_a_client_certificate(
    pulsar_broker, pulsar_topic, pt, tmp_path: Path
):
    pki = pulsar_broker.pki
    trust_store = pki.write("pulsar-trust.jks", pki.keytool_store("JKS", key=False, password="changeit"))
    client_p12 = base64.b64encode(pki.store_bytes("pkcs12", key=True, password="secret")).decode()
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(10)])
    config = tmp_path / "kete.properties"
    config.write_text(
        f"kete.data-dir={tmp_path / 'data'}\n"
        "kete.sources.replay.kind=file\n"
        "kete.sources.replay.path=events.jsonl\n"
        "kete.routes.pulsar.destination.kind=pulsar\n"
        f"kete.routes.pulsar.destination.service-url={pulsar_broker.tls_url}\n"
        f"kete.routes.pulsar.destination.topic={pulsar_topic}\n"
        "kete.routes.pulsar.destination.tls.enabled=true\n"
        "kete.routes.pulsar.destination.tls.verify-hostname=true\n"
        "kete.routes.pulsar.destination.tls.trust-store.type=JKS\n"
        "kete.routes.pulsar.destination.tls.trust-store.loader.kind=jks-file-path\n"
        f"kete.routes.pulsar.destination.tls.trust-store.loader.path={trust_store}\n"
        "kete.routes.pulsar.destination.tls.trust-store.password=changeit\n"
        "kete.routes.pulsar.destination.tls.key-store.type=PKCS12\n"
        "kete.routes.pulsar.destination.tls.key-store.loader.kind=pkcs12-file-base64\n"
        f"kete.routes.pulsar.destination.tls.key-store.loader.base64={client_p12}\n"
        "kete.routes.pulsar.destination.tls.key-store.password=secret\n"
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "10 delivered, 0 failed" in result.stderr
    received = pt.read_topic(pulsar_broker.service_url, pulsar_topic, count=10)
    assert sorted(orjson.loads(message.payload)["id"] for message in received) == sorted(f"e{n}" for n in range(10))


def tls_destination(url: str, topic: str, trusted: Path, client: Path | None) -> str:
    """The destination settings for *url* trusting the CA in *trusted*, showing the certificate in *client*."""
    settings = (
        f'service-url = "{url}"\ntopic = "{topic}"\noperation-timeout-seconds = 1\n'
        f'tls.trust-store.loader.kind = "pem-file-path"\ntls.trust-store.loader.path = "{trusted}"\n'
    )
    if client is not None:
        settings += f'tls.key-store.loader.kind = "pem-file-path"\ntls.key-store.loader.path = "{client}"\n'
    return settings


def refused_at_start(spawn_kete, config: Path, shown: str) -> str:
    """``kete run`` says *shown* at start, then keeps the events in the spool and dead-letters nothing; its log."""
    kete = spawn_kete(config)
    kete.wait_for_log(shown)
    assert kete.stop() == 1
    assert "5 event(s) wait in the spool; they are delivered at the next start" in kete.log
    assert not (config.parent / "data" / "dead-letters").exists()
    return kete.log


def test_an_untrusted_server_certificate_is_a_clear_error_at_start(
    pulsar_broker, pulsar_topic, pt, spawn_kete, tmp_path: Path
):
    other_ca = Pki(tmp_path / "other-ca")
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(5)])
    url = pulsar_broker.tls_url
    config = pt.config_file(
        tmp_path, tls_destination(url, pulsar_topic, other_ca.ca_file, pulsar_broker.pki.client_file)
    )
    refused_at_start(
        spawn_kete,
        config,
        f"the destination is not available yet: Unavailable: cannot reach Pulsar at {url}: ConnectError: "
        "the TLS handshake failed: certificate verify failed (SSL routines): the broker's certificate is not signed "
        "by a CA of tls.trust-store, or does not name the URL's host",
    )


def test_the_broker_requires_a_client_certificate(pulsar_broker, pulsar_topic, pt, spawn_kete, tmp_path: Path):
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(5)])
    url = pulsar_broker.tls_url
    config = pt.config_file(tmp_path, tls_destination(url, pulsar_topic, pulsar_broker.pki.ca_file, None))
    log = refused_at_start(
        spawn_kete,
        config,
        f"the destination is not available yet: Unavailable: cannot reach Pulsar at {url}: Timeout: the broker "
        "closed each connection as soon as it was made",
    )
    assert "it likely requires a client certificate, and tls.key-store gives none" in log, log
