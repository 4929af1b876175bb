"""A real RabbitMQ (the Debian package ``rabbitmq-server``) for the AMQP 0.9.1, AMQP 1.0 and STOMP tests.

Mark the tests ``@pytest.mark.amqp`` or ``@pytest.mark.stomp`` and ask for ``rabbitmq``: one broker per test
session, with the ``rabbitmq_amqp1_0`` and ``rabbitmq_stomp`` plugins, plain and TLS listeners for AMQP (both
protocol versions share a port, as in RabbitMQ) and STOMP, all on free 127.0.0.1 ports, its own ``epmd`` on a free
port in the broker's process group, and its data in the session's temporary folder (so ``restart()`` keeps
durable queues and their messages). The TLS listeners use certificates of a :class:`~kete_core.tls.testing.Pki`
made for the session; client certificates are checked when shown, not required.

Users: ``guest``/``guest`` and ``kete``/``kete-secret`` (tag-less, with full rights on ``/`` and on the virtual
host ``kete``). A missing ``rabbitmq-server`` skips these tests locally and fails them when ``CI=true``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kete_core.testing.services import HOST, Service, ServiceSpec, debian_program, port_open, started
from kete_core.tls.testing import Pki

USER, PASSWORD = "kete", "kete-secret"
VIRTUAL_HOST = "kete"
_PORTS = ("amqp", "amqps", "stomp", "stomps", "dist", "epmd")


def _password_hash(password: str) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def _definitions() -> dict[str, object]:
    users = [("guest", "guest", "administrator"), (USER, PASSWORD, "")]
    return {
        "users": [
            {"name": name, "password_hash": _password_hash(password), "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": tags}
            for name, password, tags in users
        ],
        "vhosts": [{"name": "/"}, {"name": VIRTUAL_HOST}],
        "permissions": [
            {"user": name, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}
            for name, _password, _tags in users
            for vhost in ("/", VIRTUAL_HOST)
        ],
    }  # fmt: skip


def _configure(service: Service, pki: Pki) -> Path:
    """Write the broker's configuration files into its folder; return the folder."""
    folder = service.workdir
    ports = service.ports
    for sub in ("mnesia", "log"):
        (folder / sub).mkdir(exist_ok=True)
    (folder / "definitions.json").write_text(json.dumps(_definitions()))
    (folder / "enabled_plugins").write_text("[rabbitmq_amqp1_0,rabbitmq_stomp].\n")
    cert = pki.write("rabbitmq-cert.pem", pki.server.certificate_pem())
    key = pki.write("rabbitmq-key.pem", pki.server.key_pem())
    ssl = [
        f"ssl_options.cacertfile = {pki.ca_file}",
        f"ssl_options.certfile = {cert}",
        f"ssl_options.keyfile = {key}",
        "ssl_options.verify = verify_peer",
        "ssl_options.fail_if_no_peer_cert = false",
    ]
    (folder / "rabbitmq.conf").write_text(
        "\n".join([
            f"listeners.tcp.default = {HOST}:{ports['amqp']}",
            f"listeners.ssl.default = {HOST}:{ports['amqps']}",
            f"stomp.listeners.tcp.1 = {HOST}:{ports['stomp']}",
            f"stomp.listeners.ssl.1 = {HOST}:{ports['stomps']}",
            f"load_definitions = {folder / 'definitions.json'}",
            "log.console = true",
            "log.console.level = warning",
            "log.file = false",
            *ssl,
        ])
        + "\n"
    )  # fmt: skip
    return folder


def _program() -> str:
    """The broker's own start script: Debian's ``/usr/sbin/rabbitmq-server`` would switch to the ``rabbitmq``
    user, who cannot read the test's folders."""
    found = debian_program("rabbitmq-server", package="rabbitmq-server")
    own = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
    return str(own) if own.is_file() else found


def rabbitmq_spec(pki: Pki) -> ServiceSpec:
    """RabbitMQ with its AMQP 1.0 and STOMP plugins, ready once every listener accepts connections."""

    def command(service: Service) -> list[str]:
        _configure(service, pki)
        # epmd in the foreground, in the broker's process group, so that stopping the group ends it too.
        script = f'epmd -port {service.ports["epmd"]} -address {HOST} & exec "$0"'
        return ["bash", "-c", script, service.program]

    def env(service: Service) -> dict[str, str]:
        folder = service.workdir
        return {
            "HOME": str(folder),  # the Erlang cookie
            "RABBITMQ_NODENAME": f"kete-{service.ports['amqp']}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": HOST,
            "RABBITMQ_NODE_PORT": str(service.ports["amqp"]),
            "RABBITMQ_DIST_PORT": str(service.ports["dist"]),
            "ERL_EPMD_PORT": str(service.ports["epmd"]),
            "ERL_EPMD_ADDRESS": HOST,
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(folder / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(folder / "mnesia" / "feature_flags"),
            "RABBITMQ_PID_FILE": str(folder / "rabbitmq.pid"),
        }

    return ServiceSpec(
        name="RabbitMQ",
        program=_program,
        ports=_PORTS,
        command=command,
        env=env,
        scrub=lambda name: name.startswith(("RABBITMQ_", "ERL_")),
        ready=lambda service: all(port_open(service.ports[name]) for name in ("amqp", "amqps", "stomp", "stomps")),
        start_timeout=120.0,
    )  # fmt: skip


@dataclass
class RabbitMQ(Service):
    """The session's broker (a :class:`Service`: ``stop()``, ``start()``) and its certificates."""

    pki: Pki | None = None

    def port(self, name: str) -> int:
        """The port of a listener: ``amqp``, ``amqps``, ``stomp`` or ``stomps``."""
        return self.ports[name]

    @property
    def url(self) -> str:
        """An AMQP 0.9.1 URL for test clients (the ``kete`` user on ``/``)."""
        return f"amqp://{USER}:{PASSWORD}@{HOST}:{self.port('amqp')}/"


@contextlib.contextmanager
def running_rabbitmq(folder: Path) -> Iterator[RabbitMQ]:
    """A started broker with its data and certificates under *folder*, stopped afterwards (for benchmarks)."""
    pki = Pki(folder / "pki")
    broker = RabbitMQ(rabbitmq_spec(pki), folder / "broker", pki=pki)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[RabbitMQ]:
    """RabbitMQ with AMQP 0.9.1, AMQP 1.0 and STOMP (plain and TLS, the session's ``pki``), started once per
    session."""
    yield from started(RabbitMQ(rabbitmq_spec(pki), tmp_path_factory.mktemp("rabbitmq"), pki=pki))


@pytest.fixture
def rabbitmq_names() -> tuple[str, str]:
    """An exchange and a queue name no other test uses."""
    tag = uuid.uuid4().hex[:10]
    return f"kete.test.{tag}", f"kete.test.{tag}.q"
