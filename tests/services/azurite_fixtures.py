"""Session-scoped pytest fixtures that run Azurite, Microsoft's Azure Storage emulator (npm).

Mark the tests ``@pytest.mark.azure``:

* ``azurite``: an :class:`Azurite` queue service on a free 127.0.0.1 port, installed once with npm into the
  download cache, started once per session (data in a temporary folder, so queues outlive a restart; the
  well-known ``devstoreaccount1`` account).
* ``azurite_oauth``: another one over HTTPS (the session's test CA, ``pki``) that also takes Microsoft Entra
  tokens (``--oauth basic``: their audience, issuer and lifetime are checked, not their signature), for
  the tests of ``managed-identity``/``default-azure-credential``; started when a test asks for it.

A missing ``npm`` skips these tests locally and fails them when ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from kete_core.testing.services import HOST, Service, ServiceSpec, npm_program, port_open, started
from kete_core.tls.testing import Pki

AZURITE_VERSION = "3.37.0"
ACCOUNT_NAME = "devstoreaccount1"
# The emulator's published well-known key.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

AZURITE_QUEUE = ServiceSpec(
    name="azurite",
    program=lambda: npm_program("azurite", AZURITE_VERSION, "azurite-queue", purpose="Azure Storage Queue tests"),
    ports=("queue",),
    command=lambda s: [
        s.program,
        "--queueHost", HOST,
        "--queuePort", str(s.ports["queue"]),
        "--location", str(s.workdir / "data"),
        "--skipApiVersionCheck",
        "--loose",
        "--disableProductStyleUrl",
    ],
    ready=lambda s: port_open(s.ports["queue"]),
    start_timeout=60.0,
)  # fmt: skip


@dataclass
class Azurite:
    """A running Azurite queue service (over HTTPS when ``scheme`` says so)."""

    service: Service
    scheme: str = "http"

    @property
    def url(self) -> str:
        """The account's queue endpoint (path style: ``http://127.0.0.1:<port>/devstoreaccount1``)."""
        return f"{self.scheme}://{self.service.address('queue')}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        """A connection string with the account key and this endpoint."""
        return (
            f"DefaultEndpointsProtocol={self.scheme};AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"QueueEndpoint={self.url};"
        )

    def stop(self) -> None:
        """Stop the emulator; its queues and messages stay on disk for ``start``."""
        self.service.stop()

    def start(self) -> None:
        """Start it again on the same port."""
        self.service.start()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """An Azurite queue service, started once per session and stopped at its end."""
    for service in started(Service(AZURITE_QUEUE, Path(tmp_path_factory.mktemp("azurite")))):
        yield Azurite(service)


class _QuicklyStopped(Service):
    """Over HTTPS, Azurite 3.37 leaves a connection the client closed half-open and waits for it when asked
    to stop; its data is not needed afterwards, so it gets 2 s before SIGKILL instead of 30."""

    def stop(self, timeout: float = 2.0) -> None:
        super().stop(timeout)


@pytest.fixture(scope="session")
def azurite_oauth(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Azurite]:
    """An Azurite queue service over HTTPS taking OAuth tokens, started once per session when asked for."""
    certificate = pki.write("azurite-certificate.pem", pki.server.certificate_pem())
    key = pki.write("azurite-key.pem", pki.server.key_pem())
    spec = replace(
        AZURITE_QUEUE,
        name="azurite-oauth",
        command=lambda s: [
            *AZURITE_QUEUE.command(s), "--oauth", "basic", "--cert", str(certificate), "--key", str(key)
        ],
    )  # fmt: skip
    for service in started(_QuicklyStopped(spec, Path(tmp_path_factory.mktemp("azurite-oauth")))):
        yield Azurite(service, scheme="https")
