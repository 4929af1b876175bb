"""A real Apache Pulsar broker for the tests: ``pulsar standalone`` (the broker, one BookKeeper bookie and a RocksDB
metadata store in one JVM) from the jars of ``org.apache.pulsar:pulsar-broker`` on Maven Central.

The jars are fetched once through ``tests/services/pulsar/pom.xml`` and cached in ``~/.m2`` and
``~/.cache/kete/pulsar-<version>``; only Java 17+ and Maven are needed. The broker listens on 127.0.0.1 only, on
free ports (binary protocol, HTTP admin, bookie), with the functions worker and stream storage off and a small heap.
Authentication is on with anonymous access kept: a client that presents no credentials is let in (role
``anonymous``), one that presents a token signed with :attr:`PulsarBroker.secret` (HS256) or the Basic user
``kete``/:attr:`PulsarBroker.basic_password` is let in, and one with wrong credentials is refused.

Given a :class:`~kete_core.tls.testing.Pki`, the same broker also serves ``pulsar+ssl://`` on a port of its own
(:attr:`PulsarBroker.tls_url`) with the PKI's server certificate, and requires a client certificate signed by its
CA there (``tlsRequireTrustedClientCertOnConnect``); the plain port is unchanged.

Fixtures (mark the tests ``@pytest.mark.pulsar``):

* ``pulsar_broker``: the :class:`PulsarBroker` with the session's ``pki``, started once per session (about
  25-30 s on two busy cores, ~350 MB resident) and stopped at its end.
* ``pulsar_topic``: a fresh ``persistent://public/default/...`` topic name per test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from kete_core.testing.services import (
    HOST,
    Service,
    ServiceSpec,
    cache_dir,
    find_java,
    maven_artifacts,
    port_open,
    started,
)
from kete_core.tls.testing import Pki

POM = Path(__file__).resolve().parent / "pulsar" / "pom.xml"
VERSION = re.search(r"<pulsar.version>([^<]+)</pulsar.version>", POM.read_text()).group(1)  # type: ignore[union-attr]
MAIN_CLASS = "org.apache.pulsar.PulsarStandaloneStarter"
BASIC_USER = "kete"
# Small enough for CI's shared two cores, large enough for the bookie's write cache and the broker's entry cache.
JVM_OPTIONS = ("-Xms64m", "-Xmx256m", "-XX:MaxDirectMemorySize=256m", "-XX:+UseSerialGC")


def pulsar_libs() -> Path:
    """The broker's classpath folder, downloaded from Maven Central on first use."""
    return maven_artifacts(POM, cache_dir() / f"pulsar-{VERSION}", purpose=f"Apache Pulsar {VERSION}")


def hs256_token(secret: bytes, subject: str) -> str:
    """A JWT for *subject* signed with *secret*, as ``pulsar tokens create --secret-key`` makes it."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256"}).encode())
    claims = part(json.dumps({"sub": subject}).encode())
    signature = hmac.new(secret, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{part(signature)}"


@dataclass
class PulsarBroker(Service):
    """``pulsar standalone`` on free 127.0.0.1 ports, its data in its work folder (kept across ``restart()``);
    with *pki*, a TLS port too."""

    secret: ClassVar[bytes] = secrets.token_bytes(32)
    # Hex never starts with "-", which `openssl passwd` would read as an option.
    basic_password: ClassVar[str] = secrets.token_hex(12)
    pki: Pki | None = None

    @property
    def service_url(self) -> str:
        """The binary protocol's URL: ``pulsar://127.0.0.1:<port>``."""
        return f"pulsar://{self.address('broker')}"

    @property
    def tls_url(self) -> str:
        """The TLS port's URL, ``pulsar+ssl://127.0.0.1:<port>`` (client certificates required)."""
        assert self.pki is not None, "this broker was started without a PKI, so without TLS"
        return f"pulsar+ssl://{self.address('broker_tls')}"

    @property
    def web_url(self) -> str:
        """The HTTP admin API's base URL."""
        return f"http://{self.address('web')}"

    def token(self, subject: str = "kete") -> str:
        """A token the broker accepts."""
        return hs256_token(self.secret, subject)


def _write_config(service: Service) -> Path:
    assert isinstance(service, PulsarBroker)
    htpasswd = service.workdir / "basic.htpasswd"
    hashed = subprocess.run(
        ["openssl", "passwd", "-apr1", service.basic_password], capture_output=True, text=True, check=True
    ).stdout.strip()
    htpasswd.write_text(f"{BASIC_USER}:{hashed}\n")
    secret = base64.b64encode(service.secret).decode()
    settings = {
        "clusterName": "standalone",
        "advertisedAddress": HOST,
        "bindAddress": HOST,
        "brokerServicePort": service.ports["broker"],
        "webServicePort": service.ports["web"],
        "managedLedgerDefaultEnsembleSize": 1,
        "managedLedgerDefaultWriteQuorum": 1,
        "managedLedgerDefaultAckQuorum": 1,
        "transactionCoordinatorEnabled": "false",
        "functionsWorkerEnabled": "false",
        "dbStorage_writeCacheMaxSizeMb": 16,
        "dbStorage_readAheadCacheMaxSizeMb": 16,
        "dbStorage_rocksDB_blockCacheSize": 8 * 1024 * 1024,
        "journalMaxSizeMB": 64,
        # Keep acknowledged messages: a reader that comes after another reader's subscription still sees them.
        "defaultRetentionTimeInMinutes": 120,
        "defaultRetentionSizeInMB": 512,
        "authenticationEnabled": "true",
        "authenticationProviders": "org.apache.pulsar.broker.authentication.AuthenticationProviderToken,"
        "org.apache.pulsar.broker.authentication.AuthenticationProviderBasic",
        "tokenSecretKey": f"data:;base64,{secret}",
        "basicAuthConf": str(htpasswd),
        "anonymousUserRole": "anonymous",
        "authorizationEnabled": "false",
        **_tls_settings(service),
    }
    path = service.workdir / "standalone.conf"
    path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return path


def _tls_settings(service: PulsarBroker) -> dict[str, object]:
    """The TLS port, with the PKI's server certificate, requiring client certificates its CA signed."""
    pki = service.pki
    if pki is None:
        return {}
    return {
        "brokerServicePortTls": service.ports["broker_tls"],
        "tlsCertificateFilePath": pki.write("pulsar-cert.pem", pki.server.certificate_pem()),
        "tlsKeyFilePath": pki.write("pulsar-key.pem", pki.server.key_pem()),
        "tlsTrustCertsFilePath": pki.ca_file,
        "tlsRequireTrustedClientCertOnConnect": "true",
    }


def _command(service: Service) -> list[str]:
    config = _write_config(service)
    return [
        service.program,
        *JVM_OPTIONS,
        "-cp",
        f"{pulsar_libs()}/*",
        MAIN_CLASS,
        "--config", str(config),
        "--no-functions-worker",
        "--no-stream-storage",
        "--advertised-address", HOST,
        "--bookkeeper-port", str(service.ports["bookie"]),
        "--bookkeeper-dir", str(service.workdir / "bookkeeper"),
        "--metadata-dir", str(service.workdir / "metadata"),
    ]  # fmt: skip


def _ready(service: Service) -> bool:
    """Serving once the binary ports are open and the standalone set-up made ``public/default``."""
    if not port_open(service.ports["broker"]):
        return False
    if isinstance(service, PulsarBroker) and service.pki is not None and not port_open(service.ports["broker_tls"]):
        return False
    with urllib.request.urlopen(f"http://{service.address('web')}/admin/v2/namespaces/public", timeout=2) as answer:
        return "public/default" in json.loads(answer.read())


PULSAR = ServiceSpec(
    name=f"Apache Pulsar {VERSION} standalone",
    program=lambda: find_java("Apache Pulsar"),
    ports=("broker", "web", "bookie", "broker_tls"),
    command=_command,
    ready=_ready,
    start_timeout=180.0,
)


@pytest.fixture(scope="session")
def pulsar_broker(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[PulsarBroker]:
    """The Pulsar standalone broker (plain and, with the session's ``pki``, TLS), started once per session and
    stopped at its end."""
    yield from started(PulsarBroker(PULSAR, tmp_path_factory.mktemp("pulsar"), pki=pki))


@pytest.fixture
def pulsar_topic() -> str:
    """A topic no other test uses."""
    return f"persistent://public/default/kete-test-{uuid.uuid4().hex[:12]}"
