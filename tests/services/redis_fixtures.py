"""A session-scoped Redis server (the Debian ``redis-server``) for the kete-redis tests; mark them ``redis``.

``redis_server`` listens on 127.0.0.1 on a plain port and a TLS port (certificates made by
:class:`~kete_core.tls.testing.Pki` for the session, client certificates optional). The default user
needs no password; the ACL user ``kete`` has the password ``kete-secret``. The append-only file keeps
streams across a restart (``stop()``/``start()`` in a test). ``redis_sentinel`` is a Sentinel that
monitors it as the master ``kete``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kete_core.testing.services import HOST, Service, ServiceSpec, debian_program, free_ports, started
from kete_core.tls.testing import Pki

USERNAME = "kete"
PASSWORD = "kete-secret"


def answers_ping(port: int) -> bool:
    """Whether a Redis server on *port* answers ``PING`` (it may accept connections while it loads)."""
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _command(service: Service) -> list[str]:
    pki = Path(service.workdir) / "pki"
    return [
        service.program,
        "--bind", HOST,
        "--port", str(service.ports["client"]),
        "--tls-port", str(service.ports["tls"]),
        "--tls-cert-file", str(pki / "server-cert.pem"),
        "--tls-key-file", str(pki / "server-key.pem"),
        "--tls-ca-cert-file", str(pki / "ca.pem"),
        "--tls-auth-clients", "optional",
        "--dir", str(service.workdir),
        "--save", "",
        "--appendonly", "yes",
        "--protected-mode", "no",
        "--user", "default", "on", "nopass", "~*", "&*", "+@all",
        "--user", USERNAME, "on", f">{PASSWORD}", "~*", "&*", "+@all",
    ]  # fmt: skip


REDIS = ServiceSpec(
    name="redis",
    program=lambda: debian_program("redis-server", package="redis-server"),
    ports=("client", "tls"),
    command=_command,
    ready=lambda service: answers_ping(service.ports["client"]),
    start_timeout=20.0,
)


@dataclass
class RedisServer(Service):
    """The server (a :class:`Service`: ``start()``, ``stop()``), its PKI and how to reach it."""

    pki: Pki | None = None

    @property
    def port(self) -> int:
        return self.ports["client"]

    @property
    def tls_port(self) -> int:
        return self.ports["tls"]


def redis_server_in(workdir: Path) -> RedisServer:
    """A Redis server (not started yet) with its state and certificates under *workdir*."""
    pki = Pki(workdir / "pki")
    pki.write("server-cert.pem", pki.server.certificate_pem())
    pki.write("server-key.pem", pki.server.key_pem())
    return RedisServer(REDIS, workdir, pki=pki)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis server, started once per session and stopped at its end."""
    yield from started(redis_server_in(tmp_path_factory.mktemp("redis")))


def _sentinel_command(service: Service) -> list[str]:
    return [service.program, str(Path(service.workdir) / "sentinel.conf"), "--sentinel"]


REDIS_SENTINEL = ServiceSpec(
    name="redis-sentinel",
    program=lambda: debian_program("redis-server", package="redis-server"),
    ports=("sentinel",),
    command=_sentinel_command,
    ready=lambda service: answers_ping(service.ports["sentinel"]),
    start_timeout=20.0,
)


@pytest.fixture(scope="session")
def redis_sentinel(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A Redis Sentinel monitoring ``redis_server`` as the master ``kete``, once per session."""
    service = Service(REDIS_SENTINEL, tmp_path_factory.mktemp("redis-sentinel"))
    service.ports = {"sentinel": free_ports(1)[0]}
    (service.workdir / "sentinel.conf").write_text(
        f"bind {HOST}\nport {service.ports['sentinel']}\ndir {service.workdir}\nprotected-mode no\n"
        f"sentinel monitor kete {HOST} {redis_server.port} 1\n"
    )
    yield from started(service)
