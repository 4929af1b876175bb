"""Session-scoped NATS servers (the Debian ``nats-server``) for the kete-nats tests; mark them ``nats``.

* ``nats_server``: JetStream on (file store, kept across ``stop()``/``start()``); clients that do not
  log in are the user ``anon``; the user ``kete`` has the password ``kete-secret``; the user of the
  nkey seed ``nats_server.nkey_seed`` may log in too.
* ``nats_tls_server``: TLS with client certificates required (certificates made by
  :class:`~kete_core.tls.testing.Pki` for the session), and the token ``kete-token``.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kete_core.testing.services import HOST, Service, ServiceSpec, debian_program, free_ports, started
from kete_core.tls.testing import Pki

USERNAME = "kete"
PASSWORD = "kete-secret"
TOKEN = "kete-token"


def answers_info(port: int) -> bool:
    """Whether a NATS server on *port* greets with its ``INFO``."""
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as connection:
            return connection.recv(7) == b'INFO {"'
    except OSError:
        return False


def _program() -> str:
    return debian_program("nats-server", package="nats-server")


def _command(service: Service) -> list[str]:
    return [service.program, "-c", str(Path(service.workdir) / "nats.conf")]


def _ready(service: Service) -> bool:
    return answers_info(service.ports["client"])


NATS = ServiceSpec(name="nats", program=_program, ports=("client",), command=_command, ready=_ready)
NATS_TLS = ServiceSpec(name="nats-tls", program=_program, ports=("client",), command=_command, ready=_ready)


def _new_user_seed() -> tuple[str, str]:
    import nkeys

    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    return seed.decode(), nkeys.from_seed(seed).public_key.decode()


@dataclass
class NatsServer:
    """A running nats-server and how to reach it."""

    service: Service
    nkey_seed: str = ""
    pki: Pki | None = None

    @property
    def port(self) -> int:
        return self.service.ports["client"]

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    def start(self) -> None:
        self.service.start()

    def stop(self) -> None:
        self.service.stop()


def _config(service: Service, text: str) -> None:
    Path(service.workdir).mkdir(parents=True, exist_ok=True)
    if not service.ports:
        service.ports = {"client": free_ports(1)[0]}
    (Path(service.workdir) / "nats.conf").write_text(f"listen: {HOST}:{service.ports['client']}\n{text}")


def nats_server_in(workdir: Path) -> NatsServer:
    """nats-server with JetStream (not started yet), its configuration and store under *workdir*."""
    seed, public = _new_user_seed()
    service = Service(NATS, workdir)
    store = json.dumps(str(workdir / "jetstream"))
    _config(
        service,
        f"""
jetstream {{ store_dir: {store}, max_memory_store: 64MB, max_file_store: 1GB }}
authorization {{
  users = [
    {{ user: anon, password: {json.dumps(os.urandom(8).hex())} }}
    {{ user: {USERNAME}, password: {PASSWORD} }}
    {{ nkey: {public} }}
  ]
}}
no_auth_user: anon
""",
    )
    return NatsServer(service, nkey_seed=seed)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """nats-server with JetStream, started once per session and stopped at its end."""
    server = nats_server_in(tmp_path_factory.mktemp("nats"))
    for _ in started(server.service):  # which stops it at the end
        yield server


@pytest.fixture(scope="session")
def nats_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """nats-server with TLS (client certificates required) and a token, once per session."""
    workdir = tmp_path_factory.mktemp("nats-tls")
    pki = Pki(workdir / "pki")
    cert = pki.write("server-cert.pem", pki.server.certificate_pem())
    key = pki.write("server-key.pem", pki.server.key_pem())
    service = Service(NATS_TLS, workdir)
    _config(
        service,
        f"""
tls {{ cert_file: {json.dumps(str(cert))}, key_file: {json.dumps(str(key))}, ca_file: {json.dumps(str(pki.ca_file))},
       verify: true, timeout: 5 }}
authorization {{ token: {TOKEN} }}
""",
    )
    server = NatsServer(service, pki=pki)
    for _ in started(service):
        yield server
