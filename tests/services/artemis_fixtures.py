"""A real Apache ActiveMQ Artemis broker for the tests: an AMQP 1.0 broker that refuses messages, which RabbitMQ 3's
AMQP 1.0 plugin never does, and a STOMP broker that answers a refused SEND with an ERROR frame naming it.

The broker's jars (its command line ``artemis run``, the AMQP and STOMP protocol modules, Log4j 2) come from Maven
Central through ``tests/services/artemis/pom.xml`` and are cached in ``~/.m2`` and ``~/.cache/kete/artemis-<version>``;
only Java 17+ and Maven are needed. The instance (``etc/broker.xml`` and its companions) is written into the session's
temporary folder: AMQP and STOMP acceptors on free 127.0.0.1 ports, no persistence, security on with the user
``kete``/``kete-secret``, addresses and their queues created on first use as anycast (a message stays until read).

An address under :data:`FULL` takes one message and refuses every further one (``max-size-bytes = 1`` with
``address-full-policy = FAIL``): AMQP 1.0 gets a ``rejected`` disposition with ``amqp:resource-limit-exceeded``
(``Address "…" is full``), STOMP an ERROR frame. :meth:`Artemis.fill` puts that first message in.

Fixtures (mark the tests ``@pytest.mark.artemis``): ``artemis``, the :class:`Artemis`, started once per session
(about 2-6 s, ~150 MB resident) and stopped by its PID at the end; ``artemis_tag``, a name part for a test's own
addresses. A missing Java or Maven, or jars that cannot be downloaded, skip the tests locally and fail them when
``CI=true``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kete_core.testing.services import (
    HOST,
    Service,
    ServiceSpec,
    ServiceStartError,
    ServiceUnavailable,
    cache_dir,
    find_java,
    maven_artifacts,
    port_open,
    started,
)

POM = Path(__file__).resolve().parent / "artemis" / "pom.xml"
VERSION = re.search(r"<artemis.version>([^<]+)</artemis.version>", POM.read_text()).group(1)  # type: ignore[union-attr]
MAIN_CLASS = "org.apache.activemq.artemis.cli.Artemis"
USER, PASSWORD = "kete", "kete-secret"
FULL = "kete.full."
"""Addresses starting with this take one message, then refuse every other one."""
JVM_OPTIONS = ("-Xms32m", "-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dlog4j2.disableJmx=true")

_PERMISSIONS = ("createNonDurableQueue", "deleteNonDurableQueue", "createDurableQueue", "deleteDurableQueue",
                "createAddress", "deleteAddress", "consume", "browse", "send", "manage")  # fmt: skip


def artemis_libs() -> Path:
    """The broker's classpath folder, downloaded from Maven Central on first use."""
    return maven_artifacts(POM, cache_dir() / f"artemis-{VERSION}", purpose=f"Apache ActiveMQ Artemis {VERSION}")


def _program() -> str:
    """Java, with the broker's jars at hand: jars that cannot be downloaded make the broker unavailable (the tests
    are skipped, or fail under ``CI=true``), as a missing Java does."""
    java = find_java("Apache ActiveMQ Artemis")
    try:
        artemis_libs()
    except ServiceStartError as exc:
        raise ServiceUnavailable(str(exc)) from exc
    return java


def _broker_xml(service: Service) -> str:
    acceptors = "\n".join(
        f'      <acceptor name="{name}">tcp://{HOST}:{service.ports[name]}?protocols={name.upper()}</acceptor>'
        for name in ("amqp", "stomp")
    )
    permissions = "\n".join(f'        <permission type="{kind}" roles="kete"/>' for kind in _PERMISSIONS)
    anycast = (
        "<auto-create-queues>true</auto-create-queues><auto-create-addresses>true</auto-create-addresses>"
        "<default-address-routing-type>ANYCAST</default-address-routing-type>"
        "<default-queue-routing-type>ANYCAST</default-queue-routing-type>"
    )
    return f"""<?xml version="1.0"?>
<configuration xmlns="urn:activemq">
  <core xmlns="urn:activemq:core">
    <name>kete-test</name>
    <persistence-enabled>false</persistence-enabled>
    <security-enabled>true</security-enabled>
    <paging-directory>{service.workdir / "data" / "paging"}</paging-directory>
    <critical-analyzer>false</critical-analyzer>
    <configuration-file-refresh-period>-1</configuration-file-refresh-period>
    <acceptors>
{acceptors}
    </acceptors>
    <security-settings>
      <security-setting match="#">
{permissions}
      </security-setting>
    </security-settings>
    <address-settings>
      <address-setting match="#">{anycast}</address-setting>
      <address-setting match="{FULL}#">{anycast}
        <max-size-bytes>1</max-size-bytes>
        <address-full-policy>FAIL</address-full-policy>
      </address-setting>
    </address-settings>
  </core>
</configuration>
"""


def _write_instance(service: Service) -> Path:
    """The instance's ``etc`` folder: the broker, JAAS users and roles, management and logging settings."""
    etc = service.workdir / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (service.workdir / "tmp").mkdir(exist_ok=True)
    files = {
        "broker.xml": _broker_xml(service),
        "bootstrap.xml": (
            '<broker xmlns="http://activemq.apache.org/schema">\n'
            '  <jaas-security domain="activemq"/>\n'
            f'  <server configuration="{(etc / "broker.xml").as_uri()}"/>\n'
            "</broker>\n"
        ),
        "management.xml": '<management-context xmlns="http://activemq.apache.org/schema"/>\n',
        "login.config": (
            "activemq {\n"
            "  org.apache.activemq.artemis.spi.core.security.jaas.PropertiesLoginModule required\n"
            '    org.apache.activemq.jaas.properties.user="users.properties"\n'
            '    org.apache.activemq.jaas.properties.role="roles.properties";\n'
            "};\n"
        ),
        "users.properties": f"{USER} = {PASSWORD}\n",
        "roles.properties": f"kete = {USER}\n",
        # The broker's own warnings (an address full, a refused login) and its start, without the audit trail.
        "log4j2.properties": (
            "rootLogger.level = WARN\nrootLogger.appenderRef.console.ref = console\n"
            "logger.server.name = org.apache.activemq.artemis.core.server\nlogger.server.level = INFO\n"
            "logger.audit.name = org.apache.activemq.audit\nlogger.audit.level = OFF\n"
            "appender.console.type = Console\nappender.console.name = console\n"
            "appender.console.layout.type = PatternLayout\n"
            "appender.console.layout.pattern = %d %-5level [%logger] %msg%n\n"
        ),
    }
    for name, text in files.items():
        (etc / name).write_text(text)
    return etc


def _command(service: Service) -> list[str]:
    etc = _write_instance(service)
    return [
        service.program,
        *JVM_OPTIONS,
        "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
        f"-Djava.security.auth.login.config={etc / 'login.config'}",
        f"-Dartemis.instance={service.workdir}",
        f"-Dartemis.instance.etc={etc}",
        f"-Ddata.dir={service.workdir / 'data'}",
        f"-Djava.io.tmpdir={service.workdir / 'tmp'}",
        f"-Dlog4j2.configurationFile={etc / 'log4j2.properties'}",
        "-cp", f"{artemis_libs()}/*",
        MAIN_CLASS,
        "run",
    ]  # fmt: skip


ARTEMIS = ServiceSpec(
    name=f"Apache ActiveMQ Artemis {VERSION}",
    program=_program,
    ports=("amqp", "stomp"),
    command=_command,
    # The acceptors start last, once the broker is active.
    ready=lambda service: all(port_open(service.ports[name]) for name in ("amqp", "stomp")),
    start_timeout=120.0,
)


@dataclass
class Artemis(Service):
    """The session's broker (a :class:`Service`), with an independent AMQP 1.0 client (Qpid Proton's blocking
    API) to fill and read its addresses."""

    def port(self, name: str) -> int:
        """The port of an acceptor: ``amqp`` or ``stomp``."""
        return self.ports[name]

    def _connect(self, timeout: float) -> Any:
        from proton.utils import BlockingConnection

        return BlockingConnection(
            f"amqp://{HOST}:{self.port('amqp')}", user=USER, password=PASSWORD, allowed_mechs="PLAIN", timeout=timeout
        )

    def fill(self, address: str) -> None:
        """Put the one message a :data:`FULL` address takes, so that it refuses every message after it."""
        from proton import Message

        assert address.startswith(FULL), address
        connection = self._connect(10)
        try:
            sender = connection.create_sender(address)
            sender.send(Message(body=b"the one message this address takes"))
        finally:
            connection.close()

    def receive(self, address: str, count: int | None = None, idle: float = 0.5, timeout: float = 20.0) -> list[Any]:
        """The messages of *address*'s queue, each accepted (so taken out): until *count* arrived, or until none
        came for *idle* seconds (when *count* is None)."""
        from tests.services.rabbitmq_client import amqp1_receive

        return amqp1_receive(self.port("amqp"), address, count, idle, timeout)


@pytest.fixture(scope="session")
def artemis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Artemis]:
    """Apache ActiveMQ Artemis with AMQP 1.0 and STOMP on free 127.0.0.1 ports, started once per session."""
    yield from started(Artemis(ARTEMIS, tmp_path_factory.mktemp("artemis")))


@pytest.fixture
def artemis_tag() -> str:
    """A name part no other test uses, for a test's addresses."""
    return uuid.uuid4().hex[:10]
