"""A Mosquitto broker (the Debian package) for the MQTT tests, started once per session.

Three listeners on free 127.0.0.1 ports, each with its own settings (``per_listener_settings``):

* ``open``: anonymous clients welcome;
* ``auth``: a password file with one user (:attr:`MosquittoBroker.username` / ``password``);
* ``tls``: TLS with a server certificate from :class:`kete_core.tls.testing.Pki` (``ca_file``), anonymous.

Sessions persist across :meth:`~kete_core.testing.services.Service.restart`, so a subscriber with a
persistent session (``clean_session=False``) gets what was published while it was reconnecting.

Mark the tests ``@pytest.mark.mqtt``. ``mosquitto`` missing skips them locally and fails them under ``CI=true``
(``tests/services/install.sh`` installs it).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kete_core.testing.services import HOST, Service, ServiceSpec, debian_program, port_open, started
from kete_core.tls.testing import Pki

USERNAME = "kete"
PASSWORD = "s3cret-mqtt-password"


def password_line(username: str, password: str) -> str:
    """A Mosquitto password file line: ``$6$`` is SHA-512 over the password, then a random salt."""
    salt = os.urandom(12)
    digest = hashlib.sha512(password.encode() + salt).digest()
    return f"{username}:$6${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}\n"


def _config(service: Service) -> str:
    folder = service.workdir
    passwords = folder / "passwords"
    passwords.write_text(password_line(USERNAME, PASSWORD))
    passwords.chmod(0o600)
    pki = Pki(folder / "pki")
    certificate = pki.write("server-chain.pem", pki.server.certificate_pem() + pki.ca_file.read_bytes())
    key = pki.write("server-key.pem", pki.server.key_pem())
    ports = service.ports
    return (
        # As root Mosquitto would switch to its own user, who cannot read the test's private folder.
        "user root\nper_listener_settings true\nlog_dest stdout\nlog_type error\nlog_type warning\n"
        "log_type notice\nlog_type information\n"
        # Persistent sessions survive a restart: a subscriber with clean_session=False misses nothing.
        f"persistence true\npersistence_location {folder}/\nmax_queued_messages 100000\n"
        f"listener {ports['open']} {HOST}\nallow_anonymous true\n"
        f"listener {ports['auth']} {HOST}\nallow_anonymous false\npassword_file {passwords}\n"
        f"listener {ports['tls']} {HOST}\nallow_anonymous true\ncafile {pki.ca_file}\ncertfile {certificate}\n"
        f"keyfile {key}\n"
    )


def _command(service: Service) -> list[str]:
    config = service.workdir / "mosquitto.conf"
    if not config.exists():  # written once: a restart keeps the certificates and the password
        config.write_text(_config(service))
    return [service.program, "-c", str(config)]


MOSQUITTO = ServiceSpec(
    name="mosquitto",
    program=lambda: debian_program("mosquitto", package="mosquitto"),
    ports=("open", "auth", "tls"),
    command=_command,
    ready=lambda s: all(port_open(port) for port in s.ports.values()),
)


class MosquittoBroker(Service):
    """The session's Mosquitto: ``port`` (anonymous), ``auth_port`` (``username``/``password``),
    ``tls_port`` (server certificate signed by ``ca_file``)."""

    username = USERNAME
    password = PASSWORD

    @property
    def port(self) -> int:
        return self.ports["open"]

    @property
    def auth_port(self) -> int:
        return self.ports["auth"]

    @property
    def tls_port(self) -> int:
        return self.ports["tls"]

    @property
    def ca_file(self) -> Path:
        return self.workdir / "pki" / "ca.pem"


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """Mosquitto, started once per session and stopped at its end."""
    yield from started(MosquittoBroker(MOSQUITTO, tmp_path_factory.mktemp("mosquitto")))
