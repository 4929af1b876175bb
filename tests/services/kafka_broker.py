"""A throwaway single-node Apache Kafka broker (KRaft mode) for tests and benchmarks.

Stdlib only. The broker's jars come from Maven Central through ``tests/services/kafka/pom.xml`` and are cached in
``~/.m2`` and ``~/.cache/kete/kafka-<version>/libs``; only Java 17+ and Maven are needed. Manual use::

    python -m tests.services.kafka_broker fetch                     # download the jars only
    python -m tests.services.kafka_broker start [--dir DIR]         # prints addresses and credentials as JSON
    python -m tests.services.kafka_broker status [--dir DIR]
    python -m tests.services.kafka_broker stop [--dir DIR] [--clean]

Environment: ``KETE_KAFKA_LIBS`` (use this folder of Kafka jars instead of downloading), ``KETE_KAFKA_CDS=0`` (no
class-data-sharing archive), ``XDG_CACHE_HOME`` (cache root), ``JAVA_HOME``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kete_core.testing.services import (
    HOST,
    ServiceStartError,
    ServiceUnavailable,
    cache_dir,
    free_ports,
    java_version_text,
    kill_group,
    log_tail,
    maven_artifacts,
    pid_runs,
    port_open,
    spawn,
    stop_group,
    wait_ready,
)
from kete_core.testing.services import (
    find_java as find_java_for,
)

POM_PATH = Path(__file__).resolve().parent / "kafka" / "pom.xml"
STATE_FILE = "kete-broker.json"
LOG_FILE = "broker.log"
SCRAM_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
# Listener names double as their security protocols, except the controller's own (PLAINTEXT) listener.
CLIENT_LISTENERS = ("PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL")
TLS_LISTENERS = ("SSL", "SASL_SSL")


class BrokerUnavailable(ServiceUnavailable):
    """A tool the broker needs (Java, Maven, a broker binary) is not installed."""


class BrokerStartError(ServiceStartError):
    """The broker could not be fetched or did not become ready; the message carries the tail of its log."""


class KafkaProtocolBroker(Protocol):
    """What the Apache Kafka and Tansu test brokers have in common."""

    kind: str
    persistent: bool

    @property
    def bootstrap_servers(self) -> str: ...

    def client_config(self, listener: str = "PLAINTEXT") -> dict[str, str]: ...

    def start(self) -> None: ...

    def stop(self, timeout: float = 30.0) -> None: ...


@dataclass(frozen=True)
class ScramUser:
    """A SCRAM user created when the broker's storage is formatted (for both SHA-512 and SHA-256)."""

    username: str
    password: str
    mechanism: str = "SCRAM-SHA-512"


# --- a minimal Kafka protocol probe (readiness check without a client library) --------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> Any:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str | None:
        length = self.take(">h")
        if length < 0:
            return None
        value = self.data[self.pos : self.pos + length].decode()
        self.pos += length
        return value


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks += chunk
    return bytes(chunks)


def _call(sock: socket.socket, api_key: int, version: int, correlation_id: int, body: bytes) -> _Reader:
    client_id = b"kete-probe"
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    reader = _Reader(_recv_exact(sock, size))
    if reader.take(">i") != correlation_id:
        raise ConnectionError("correlation id mismatch")
    return reader


def probe_metadata(port: int, timeout: float = 2.0) -> list[tuple[int, str, int]]:
    """Ask the broker on 127.0.0.1:``port`` for its broker list: ``[(node_id, host, port), ...]``.

    Speaks ApiVersions v0 and then the newest non-flexible Metadata version (4 to 8) the broker supports.
    """
    with socket.create_connection((HOST, port), timeout) as sock:
        sock.settimeout(timeout)
        reader = _call(sock, 18, 0, 1, b"")
        error = reader.take(">h")
        if error:
            raise ConnectionError(f"ApiVersions error {error}")
        versions = {}
        for _ in range(reader.take(">i")):
            key, low, high = reader.take(">h"), reader.take(">h"), reader.take(">h")
            versions[key] = (low, high)
        low, high = versions.get(3, (0, -1))
        version = min(high, 8)
        if version < max(low, 4):
            raise ConnectionError(f"no non-flexible Metadata version in {low}..{high}")
        # Empty topic list (not null), no auto-creation; v8 adds the two authorized-operations flags.
        body = struct.pack(">i?", 0, False) + (struct.pack(">??", False, False) if version >= 8 else b"")
        reader = _call(sock, 3, version, 2, body)
        reader.take(">i")  # throttle_time_ms
        brokers = []
        for _ in range(reader.take(">i")):
            node_id = reader.take(">i")
            host = reader.string() or ""
            broker_port = reader.take(">i")
            reader.string()  # rack
            brokers.append((node_id, host, broker_port))
        return brokers


# --- fetching Kafka ------------------------------------------------------------------------------------------


def pinned_kafka_version() -> str:
    """The Kafka version pinned in ``tests/services/kafka/pom.xml``."""
    element = (
        ET.parse(POM_PATH).getroot().find("m:properties/m:kafka.version", {"m": "http://maven.apache.org/POM/4.0.0"})
    )
    if element is None or not element.text:
        raise RuntimeError(f"no <kafka.version> property in {POM_PATH}")
    return element.text.strip()


def ensure_kafka_libs(version: str | None = None, *, verbose: bool = False) -> Path:
    """Return a folder with Kafka's runtime jars, downloading them with Maven on first use.

    ``$KETE_KAFKA_LIBS`` may point at an existing folder of jars (e.g. the ``libs/`` of a Kafka distribution).
    """
    override = os.environ.get("KETE_KAFKA_LIBS")
    if override:
        libs = Path(override)
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise BrokerUnavailable(f"KETE_KAFKA_LIBS={override} holds no kafka_2.13-*.jar")
        return libs
    version = version or pinned_kafka_version()
    purpose = f"Apache Kafka {version} (or set KETE_KAFKA_LIBS to a folder of Kafka jars)"
    try:
        libs = maven_artifacts(
            POM_PATH,
            cache_dir() / f"kafka-{version}" / "libs",
            purpose=purpose,
            properties={"kafka.version": version},
            verbose=verbose,
        )
    except ServiceUnavailable as exc:
        raise BrokerUnavailable(str(exc)) from exc
    except ServiceStartError as exc:
        raise BrokerStartError(str(exc)) from exc
    if not (libs / f"kafka_2.13-{version}.jar").is_file():
        raise BrokerStartError(f"{libs} holds no kafka_2.13-{version}.jar; delete it to download again")
    return libs


def find_java() -> str:
    """Path of a Java 17+ ``java`` (``$JAVA_HOME`` first, then ``PATH``) for the broker."""
    try:
        return find_java_for("the Kafka test broker")
    except ServiceUnavailable as exc:
        raise BrokerUnavailable(str(exc)) from exc


def _read_properties(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def new_cluster_id() -> str:
    """A random Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # Kafka's own generator avoids a leading '-', which command-line parsers take for an option.
        if not cluster_id.startswith("-"):
            return cluster_id


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def make_test_pki(folder: Path) -> tuple[Path, Path]:
    """Create a CA and a 127.0.0.1/localhost server certificate with openssl; return (ca.pem, keystore.pem).

    The keystore holds the unencrypted PKCS#8 server key followed by the certificate chain, which Kafka reads
    as an ``ssl.keystore.type=PEM`` keystore.
    """
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", "/CN=kete test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=folder)
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "3650", "-extfile", "server.ext",
        cwd=folder,
    )  # fmt: skip
    keystore = folder / "server-keystore.pem"
    keystore.write_text(
        (folder / "server.key").read_text() + (folder / "server.pem").read_text() + (folder / "ca.pem").read_text()
    )
    keystore.chmod(0o600)
    return folder / "ca.pem", keystore


# Config dumps (several hundred lines per start) are left out: the tail of the log should show what went wrong.
# Log4j's own shutdown hook would race Kafka's and swallow the shutdown messages.
_LOG4J2 = """\
status = warn
shutdownHook = disable
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
"""


def _digest(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:16]


class KafkaBroker:
    """A single-node Apache Kafka broker (KRaft, combined broker+controller) on free 127.0.0.1 ports.

    Listeners: PLAINTEXT (``bootstrap_servers``), SASL_PLAINTEXT with SCRAM-SHA-512/256 (``sasl_bootstrap_servers``)
    and, if openssl is available and ``tls`` is on, SSL and SASL_SSL (``ssl_bootstrap_servers``,
    ``sasl_ssl_bootstrap_servers``, CA in ``ca_file``). ``stop()`` and ``start()`` again keep the data and the ports.
    """

    kind = "kafka"
    persistent = True

    def __init__(
        self,
        workdir: Path | str | None = None,
        *,
        version: str | None = None,
        tls: bool = True,
        heap: str = "512m",
        username: str = "kete",
        password: str = "kete-secret",
        properties: Mapping[str, str] | None = None,
        start_timeout: float = 90.0,
        die_with_parent: bool = True,
        log_level: str = "INFO",
    ) -> None:
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="kete-kafka-")).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.version = version or pinned_kafka_version()
        self.heap = heap
        self.extra_properties = dict(properties or {})
        self.start_timeout = start_timeout
        self.die_with_parent = die_with_parent
        self.log_level = log_level
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "server.properties"
        self.log_path = self.workdir / LOG_FILE
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._cds_pending: Path | None = None
        self.last_exit_code: int | None = None
        self._java, self._libs = "java", Path()
        self._tls_wanted = tls
        self.ports: dict[str, int] = {}
        self.cluster_id = ""
        self.scram = ScramUser(username, password)
        self.ca_file: Path | None = None
        self._load_state()

    # --- addresses and client settings

    @property
    def bootstrap_servers(self) -> str:
        """PLAINTEXT bootstrap address, ``127.0.0.1:<port>``."""
        return self._address("PLAINTEXT")

    @property
    def sasl_bootstrap_servers(self) -> str:
        """SASL_PLAINTEXT (SCRAM-SHA-512 or SCRAM-SHA-256) bootstrap address."""
        return self._address("SASL_PLAINTEXT")

    @property
    def ssl_bootstrap_servers(self) -> str | None:
        """SSL bootstrap address (server-authenticated TLS, no client certificate), or None without TLS."""
        return self._address("SSL") if self.tls else None

    @property
    def sasl_ssl_bootstrap_servers(self) -> str | None:
        """SASL_SSL (SCRAM over TLS) bootstrap address, or None without TLS."""
        return self._address("SASL_SSL") if self.tls else None

    @property
    def tls(self) -> bool:
        """Whether the SSL and SASL_SSL listeners exist."""
        return self.ca_file is not None

    @property
    def scram_username(self) -> str:
        """SCRAM user created at format time."""
        return self.scram.username

    @property
    def scram_password(self) -> str:
        """Password of ``scram_username``."""
        return self.scram.password

    @property
    def scram_mechanism(self) -> str:
        """The preferred SASL mechanism, SCRAM-SHA-512 (SCRAM-SHA-256 works too)."""
        return self.scram.mechanism

    def _address(self, listener: str) -> str:
        if listener not in self.ports:
            raise RuntimeError("the broker has not been started yet, so it has no ports")
        return f"{HOST}:{self.ports[listener]}"

    def client_config(
        self,
        listener: str = "PLAINTEXT",
        *,
        username: str | None = None,
        password: str | None = None,
        mechanism: str = "SCRAM-SHA-512",
    ) -> dict[str, str]:
        """librdkafka (confluent-kafka) settings to reach ``listener``, with the SCRAM user unless overridden."""
        if listener not in CLIENT_LISTENERS:
            raise ValueError(f"listener must be one of {CLIENT_LISTENERS}, not {listener!r}")
        if listener in TLS_LISTENERS and not self.tls:
            raise RuntimeError("this broker runs without TLS listeners")
        config = {"bootstrap.servers": self._address(listener), "security.protocol": listener}
        if listener.startswith("SASL"):
            config.update({
                "sasl.mechanisms": mechanism,
                "sasl.username": self.scram.username if username is None else username,
                "sasl.password": self.scram.password if password is None else password,
            })  # fmt: skip
        if listener in TLS_LISTENERS:
            config["ssl.ca.location"] = str(self.ca_file)
        return config

    # --- lifecycle

    def is_running(self) -> bool:
        """Whether the broker process is alive."""
        if self._proc is not None:
            return self._proc.poll() is None
        return self.pid is not None and pid_runs(self.pid, str(self.config_path))

    def start(self) -> None:
        """Format the log dir on first use, start the broker, and wait until it answers metadata requests."""
        if self.is_running():
            return
        java = find_java()
        libs = ensure_kafka_libs(self.version)
        started = time.monotonic()
        if not self.ports:
            self.ports = dict(zip((*CLIENT_LISTENERS, "CONTROLLER"), free_ports(5), strict=True))
            if self._tls_wanted and shutil.which("openssl"):
                self.ca_file, _ = make_test_pki(self.workdir / "tls")
        self.config_path.write_text(self._server_properties())
        (self.workdir / "log4j2.properties").write_text(_LOG4J2.format(level=self.log_level))
        if not (self.data_dir / "meta.properties").is_file():
            self._format(java, libs)
        self._save_state()
        cds = self._cds_options(java, libs)
        try:
            self._spawn_and_wait(java, libs, cds, started)
        except BrokerStartError:
            crashed = self.last_exit_code in (-signal.SIGABRT, -signal.SIGBUS, -signal.SIGSEGV)
            if not crashed or not cds or not cds[0].startswith("-XX:SharedArchiveFile="):
                raise
            # A damaged class archive crashes the JVM (SIGBUS, then abort); drop it and start without one.
            Path(cds[0].split("=", 1)[1]).unlink(missing_ok=True)
            self._spawn_and_wait(java, libs, [], time.monotonic())

    def _spawn_and_wait(self, java: str, libs: Path, jvm_options: list[str], started: float) -> None:
        self._java, self._libs = java, libs
        self._proc = spawn(
            [*self._java_command(java, libs), *jvm_options, "kafka.Kafka", str(self.config_path)],
            log_path=self.log_path,
            cwd=self.workdir,
            die_with_parent=self.die_with_parent,
        )
        self.pid = self._proc.pid
        self._save_state()
        self._wait_ready(started)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout`` seconds) and wait for it to exit."""
        if self.pid is not None and self.is_running():
            stop_group(self.pid, self._proc, timeout)
        self._forget_process()

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would, and wait for it to exit."""
        if self.pid is not None and self.is_running():
            kill_group(self.pid, self._proc)
        self._forget_process(crashed=True)

    def restart(self, timeout: float = 30.0) -> None:
        """``stop()`` then ``start()``: same data, same ports."""
        self.stop(timeout)
        self.start()

    def close(self) -> None:
        """Stop the broker and delete its folder if this object created it."""
        self.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"KafkaBroker(version={self.version!r}, ports={self.ports}, pid={self.pid}, workdir={str(self.workdir)!r})"
        )

    def describe(self) -> dict[str, Any]:
        """Addresses, credentials and paths, as printed by the command line ``start``."""
        return {
            "kind": self.kind,
            "version": self.version,
            "pid": self.pid,
            "workdir": str(self.workdir),
            "log": str(self.log_path),
            "bootstrap_servers": self.bootstrap_servers,
            "sasl_bootstrap_servers": self.sasl_bootstrap_servers,
            "ssl_bootstrap_servers": self.ssl_bootstrap_servers,
            "sasl_ssl_bootstrap_servers": self.sasl_ssl_bootstrap_servers,
            "sasl_mechanisms": list(SCRAM_MECHANISMS),
            "username": self.scram.username,
            "password": self.scram.password,
            "ca_file": str(self.ca_file) if self.ca_file else None,
        }

    # --- internals

    def _forget_process(self, *, crashed: bool = False) -> None:
        if self._proc is not None:
            self.last_exit_code = self._proc.returncode
        pending, self._cds_pending = self._cds_pending, None
        if pending is not None:
            # The JVM writes the class archive while it exits; only a clean exit leaves a complete one.
            if not crashed and self.last_exit_code in (0, 143) and self._cds_archive_works(pending):
                pending.replace(pending.with_name(pending.name.split(".pending-")[0]))
            else:
                pending.unlink(missing_ok=True)
        self._proc = None
        self.pid = None
        self._save_state()

    def _cds_archive_works(self, archive: Path) -> bool:
        """Whether a JVM maps ``archive`` (a truncated one crashes the JVM instead of being ignored)."""
        if not archive.is_file() or archive.stat().st_size == 0:
            return False
        command = [
            self._java,
            f"-XX:SharedArchiveFile={archive}",
            "-Xshare:on",
            "-cp",
            str(self._libs / "*"),
            "-version",
        ]
        check = subprocess.run(command, cwd=self.workdir, capture_output=True, timeout=60, check=False)
        return check.returncode == 0

    def _cds_options(self, java: str, libs: Path) -> list[str]:
        """JVM flags for a class-data-sharing archive of the broker's classes, which cuts about a second off start.

        The first broker that finds no archive writes one when it stops cleanly; later ones map it. A stale or
        foreign archive is only a warning for the JVM (``-Xshare:auto``), which then starts without it.
        """
        if os.environ.get("KETE_KAFKA_CDS", "1") == "0" or os.environ.get("KETE_KAFKA_LIBS"):
            return []
        jars = sorted((p.name, p.stat().st_size) for p in libs.glob("*.jar"))
        archive = libs.parent / f"cds-{_digest(Path(java).resolve(), java_version_text(java), jars)}.jsa"
        if archive.is_file():
            return [f"-XX:SharedArchiveFile={archive}"]
        # Only a broker owned by this process (not one started from the command line) is stopped by code that
        # can check its exit and publish the archive.
        if self.die_with_parent:
            self._cds_pending = archive.with_name(f"{archive.name}.pending-{uuid.uuid4().hex}")
            return [f"-XX:ArchiveClassesAtExit={self._cds_pending}"]
        return []

    def _listeners(self) -> list[str]:
        return ["PLAINTEXT", "SASL_PLAINTEXT", *(TLS_LISTENERS if self.tls else ())]

    def _java_command(self, java: str, libs: Path) -> list[str]:
        return [
            java,
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.workdir}",
            "-cp",
            str(libs / "*"),
        ]

    def _format(self, java: str, libs: Path) -> None:
        """Format the log dir with the storage tool, or copy a log dir formatted earlier with the same users.

        A formatted log dir holds only meta.properties (node id, cluster id) and the bootstrap metadata checkpoint
        (feature levels, SCRAM credentials), none of which depend on the ports, so a copy saves a JVM start.
        """
        template = libs.parent / (
            f"formatted-{_digest(self.version, self.scram.username, self.scram.password, SCRAM_MECHANISMS)}"
        )
        if not os.environ.get("KETE_KAFKA_LIBS") and (template / "meta.properties").is_file():
            shutil.rmtree(self.data_dir, ignore_errors=True)
            shutil.copytree(template, self.data_dir)
        else:
            self._run_storage_format(java, libs)
            if not os.environ.get("KETE_KAFKA_LIBS"):
                staging = template.with_name(f"{template.name}.partial-{uuid.uuid4().hex}")
                shutil.copytree(self.data_dir, staging)
                try:
                    staging.rename(template)
                except OSError:  # another broker got there first
                    shutil.rmtree(staging, ignore_errors=True)
        self.cluster_id = _read_properties(self.data_dir / "meta.properties")["cluster.id"]

    def _run_storage_format(self, java: str, libs: Path) -> None:
        user = f"name={self.scram.username},password={self.scram.password}"
        command = [
            *self._java_command(java, libs), "kafka.tools.StorageTool", "format",
            "--config", str(self.config_path), "--cluster-id", new_cluster_id(),
            *(arg for mechanism in SCRAM_MECHANISMS for arg in ("--add-scram", f"{mechanism}=[{user}]")),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        with self.log_path.open("a") as log:
            log.write(f"$ kafka-storage format (exit {result.returncode})\n{result.stdout}{result.stderr}\n")
        if result.returncode != 0:
            raise BrokerStartError(
                f"formatting {self.data_dir} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
            )

    def _server_properties(self) -> str:
        p = self.ports
        listeners = self._listeners()
        jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        props: dict[str, str] = {
            "node.id": "1",
            "process.roles": "broker,controller",
            "controller.quorum.voters": f"1@{HOST}:{p['CONTROLLER']}",
            "controller.listener.names": "CONTROLLER",
            "listeners": ",".join(f"{name}://{HOST}:{p[name]}" for name in [*listeners, "CONTROLLER"]),
            "advertised.listeners": ",".join(f"{name}://{HOST}:{p[name]}" for name in listeners),
            "listener.security.protocol.map": ",".join(f"{n}:{n}" for n in CLIENT_LISTENERS) + ",CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "sasl.enabled.mechanisms": ",".join(SCRAM_MECHANISMS),
            "log.dirs": str(self.data_dir),
            "auto.create.topics.enable": "true",
            "num.partitions": "1",
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": "1",
            # Fewer internal partitions: the first consumer group and transaction are ready much sooner.
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Lets tests use short consumer session timeouts (Tansu makes joins wait session.timeout.ms / 2).
            "group.min.session.timeout.ms": "1000",
            # After a kill, the restarted controller makes the new broker incarnation wait out the old one's session.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        for listener in ("SASL_PLAINTEXT", "SASL_SSL"):
            for mechanism in SCRAM_MECHANISMS:
                props[f"listener.name.{listener.lower()}.{mechanism.lower()}.sasl.jaas.config"] = jaas
        if self.tls:
            props.update({
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": str(self.workdir / "tls" / "server-keystore.pem"),
                "ssl.client.auth": "none",
            })  # fmt: skip
        props.update(self.extra_properties)
        return "".join(f"{key}={value}\n" for key, value in props.items())

    def _wait_ready(self, started: float) -> None:
        assert self._proc is not None
        client_ports = [self.ports[name] for name in self._listeners()]

        def ready() -> bool:
            return bool(probe_metadata(self.ports["PLAINTEXT"], 1.0)) and all(map(port_open, client_ports))

        timeout = max(0.0, started + self.start_timeout - time.monotonic())
        try:
            wait_ready(ready, self._proc, what="Kafka broker", log_path=self.log_path, timeout=timeout)
        except ServiceStartError as exc:
            if self._proc.poll() is None:
                self.kill()
            else:
                self._forget_process()  # keeps the exit code: a crash on a damaged class archive is retried
            raise BrokerStartError(str(exc)) from None

    def _tail(self) -> str:
        return f"--- {self.log_path} ---\n{log_tail(self.log_path)}"

    def _save_state(self) -> None:
        state = {
            "kind": self.kind,
            "version": self.version,
            "pid": self.pid,
            "ports": self.ports,
            "cluster_id": self.cluster_id,
            "username": self.scram.username,
            "password": self.scram.password,
            "ca_file": str(self.ca_file) if self.ca_file else None,
            "heap": self.heap,
        }
        (self.workdir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")

    def _load_state(self) -> None:
        path = self.workdir / STATE_FILE
        if not path.is_file():
            return
        state = json.loads(path.read_text())
        if state.get("kind") != self.kind:
            raise RuntimeError(f"{path} belongs to a {state.get('kind')} broker")
        self.version = state["version"]
        self.ports = {key: int(value) for key, value in state["ports"].items()}
        self.cluster_id = state["cluster_id"]
        self.scram = ScramUser(state["username"], state["password"])
        self.ca_file = Path(state["ca_file"]) if state.get("ca_file") else None
        pid = state.get("pid")
        self.pid = pid if pid and pid_runs(pid, str(self.config_path)) else None


# --- command line --------------------------------------------------------------------------------------------


def default_cli_dir(kind: str) -> Path:
    """Default state folder of the command-line ``start``/``stop`` (one broker of each kind per user)."""
    return Path(tempfile.gettempdir()) / f"kete-{kind}-{os.getuid()}"


def run_cli(argv: Sequence[str] | None, kind: str, make: Callable[[argparse.Namespace], Any], description: str) -> int:
    """Shared ``start|stop|status`` command line of the test brokers; ``make`` builds a broker from the options."""
    parser = argparse.ArgumentParser(prog=f"python -m tests.services.{kind}_broker", description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a broker that keeps running after this command exits")
    start.add_argument("--dir", type=Path, default=default_cli_dir(kind), help="state and data folder")
    if kind == "kafka":
        start.add_argument("--heap", default="512m", help="JVM -Xmx (default 512m)")
        start.add_argument("--no-tls", action="store_true", help="no SSL/SASL_SSL listeners")
        sub.add_parser("fetch", help="download the Kafka jars into the cache and print their folder")
    for name in ("stop", "status"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--dir", type=Path, default=default_cli_dir(kind), help="state and data folder")
        cmd.add_argument("--timeout", type=float, default=30.0, help="seconds before SIGKILL (stop)")
        if name == "stop":
            cmd.add_argument("--clean", action="store_true", help="also delete the folder")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(ensure_kafka_libs(verbose=True))
        return 0
    if args.command != "start" and not (args.dir / STATE_FILE).is_file():
        print(json.dumps({"running": False, "error": f"no broker state in {args.dir}"}, indent=2))
        return 1
    broker = make(args)
    if args.command == "start":
        broker.start()
        print(json.dumps(broker.describe(), indent=2))
    elif args.command == "status":
        running = broker.is_running()
        print(json.dumps({"running": running, **(broker.describe() if broker.ports or running else {})}, indent=2))
        return 0 if running else 1
    else:
        broker.stop(args.timeout)
        if args.clean:
            shutil.rmtree(args.dir, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""

    def make(args: argparse.Namespace) -> KafkaBroker:
        options = {"heap": args.heap, "tls": not args.no_tls} if args.command == "start" else {}
        return KafkaBroker(args.dir, die_with_parent=False, **options)

    return run_cli(argv, "kafka", make, "Run a single-node Apache Kafka test broker.")


if __name__ == "__main__":
    sys.exit(main())
