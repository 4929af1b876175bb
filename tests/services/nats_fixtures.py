"""Session-scoped NATS servers (the Debian ``nats-server``) for the kete-nats tests; mark them ``nats``.

* ``nats_server``: JetStream on (file store, kept across ``stop()``/``start()``); clients that do not
  log in are the user ``anon``; the user ``kete`` has the password ``kete-secret``; the user of the
  nkey seed ``nats_server.nkey_seed`` may log in too.
* ``nats_tls_server``: TLS with client certificates required (certificates made by
  :class:`~kete_core.tls.testing.Pki` for the session), and the token ``kete-token``.
* ``nats_operator_server``: decentralized authentication (an operator, an account and a user, their
  JWTs signed here with nkeys); ``nats_operator_server.credentials`` is the user's ``.creds`` file.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def _new_seed(prefix: int) -> tuple[str, str]:
    """A new nkey's (seed, public key)."""
    import nkeys

    seed = nkeys.encode_seed(os.urandom(32), prefix)
    return seed.decode(), nkeys.from_seed(seed).public_key.decode()


def _new_user_seed() -> tuple[str, str]:
    import nkeys

    return _new_seed(nkeys.PREFIX_BYTE_USER)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(issuer_seed: str, subject: str, name: str, claims: dict[str, Any]) -> str:
    """A NATS JWT (v2) for *subject*, signed with the issuer's nkey."""
    import nkeys

    issuer = nkeys.from_seed(issuer_seed.encode())
    header = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    body = _b64(
        json.dumps(
            {
                "jti": base64.b32encode(os.urandom(32)).decode().rstrip("="),
                "iat": int(time.time()),
                "iss": issuer.public_key.decode(),
                "name": name,
                "sub": subject,
                "nats": claims,
            }
        ).encode()
    )
    return f"{header}.{body}.{_b64(issuer.sign(f'{header}.{body}'.encode()))}"


def _operator_mode() -> tuple[str, str]:
    """A server configuration trusting a new operator and its account, and a user's ``.creds`` file."""
    import nkeys

    operator_seed, operator = _new_seed(nkeys.PREFIX_BYTE_OPERATOR)
    account_seed, account = _new_seed(nkeys.PREFIX_BYTE_ACCOUNT)
    user_seed, user = _new_seed(nkeys.PREFIX_BYTE_USER)
    unlimited = {"subs": -1, "data": -1, "payload": -1}
    operator_jwt = _jwt(operator_seed, operator, "kete-test", {"type": "operator", "version": 2})
    account_jwt = _jwt(
        operator_seed,
        account,
        "kete",
        {"type": "account", "version": 2, "limits": {**unlimited, "imports": -1, "exports": -1, "conn": -1}},
    )
    user_jwt = _jwt(account_seed, user, "kete", {"type": "user", "version": 2, "pub": {}, "sub": {}, **unlimited})
    config = f"operator: {operator_jwt}\nresolver: MEMORY\nresolver_preload: {{ {account}: {account_jwt} }}\n"
    credentials = (
        f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{user_seed}\n------END USER NKEY SEED------\n"
    )
    return config, credentials


@dataclass
class NatsServer(Service):
    """A nats-server (a :class:`Service`: ``start()``, ``stop()``) and how to reach it."""

    nkey_seed: str = ""
    pki: Pki | None = None
    credentials: str = ""

    @property
    def port(self) -> int:
        return self.ports["client"]

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"


def _config(service: Service, text: str) -> None:
    Path(service.workdir).mkdir(parents=True, exist_ok=True)
    if not service.ports:
        service.ports = {"client": free_ports(1)[0]}
    (Path(service.workdir) / "nats.conf").write_text(f"listen: {HOST}:{service.ports['client']}\n{text}")


def nats_server_in(workdir: Path) -> NatsServer:
    """nats-server with JetStream (not started yet), its configuration and store under *workdir*."""
    seed, public = _new_user_seed()
    service = NatsServer(NATS, workdir, nkey_seed=seed)
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
    return service


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """nats-server with JetStream, started once per session and stopped at its end."""
    yield from started(nats_server_in(tmp_path_factory.mktemp("nats")))


@pytest.fixture(scope="session")
def nats_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """nats-server with TLS (client certificates required) and a token, once per session."""
    workdir = tmp_path_factory.mktemp("nats-tls")
    pki = Pki(workdir / "pki")
    cert = pki.write("server-cert.pem", pki.server.certificate_pem())
    key = pki.write("server-key.pem", pki.server.key_pem())
    service = NatsServer(NATS_TLS, workdir, pki=pki)
    _config(
        service,
        f"""
tls {{ cert_file: {json.dumps(str(cert))}, key_file: {json.dumps(str(key))}, ca_file: {json.dumps(str(pki.ca_file))},
       verify: true, timeout: 5 }}
authorization {{ token: {TOKEN} }}
""",
    )
    yield from started(service)


@pytest.fixture(scope="session")
def nats_operator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """nats-server trusting an operator made here (users log in with a ``.creds`` file), once per session."""
    config, credentials = _operator_mode()
    service = NatsServer(NATS, tmp_path_factory.mktemp("nats-operator"), credentials=credentials)
    _config(service, config)
    yield from started(service)
