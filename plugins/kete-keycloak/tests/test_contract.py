"""The Keycloak sources pass the source contract against the session's real Keycloak: each record
is a failed login of a username of its own, which Keycloak logs and stores as a LOGIN_ERROR."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from kete_core.testing import SourceContract
from tests.services.keycloak_server import failed_login

pytestmark = [pytest.mark.keycloak, pytest.mark.slow]


class KeycloakSourceContract(SourceContract):
    malformed = ()  # Keycloak writes its own events; its other log lines and records are not input errors
    timeout = 120.0

    def records(self, first, count):
        run = uuid.uuid4().hex[:8]
        return [f"contract-{run}-{number}".encode() for number in range(first, first + count)]

    def identity(self, event, record):
        details = event.get("details") or {}
        return event.get("type") == "LOGIN_ERROR" and details.get("username") == record.decode()

    @pytest.fixture
    def feed(self, keycloak):
        async def log_in(records):
            await asyncio.to_thread(lambda: [failed_login(keycloak.base_url, record.decode()) for record in records])

        return log_in


class TestKeycloakLogSource(KeycloakSourceContract):
    kind = "keycloak-log"

    @pytest.fixture
    def source_settings(self, keycloak):
        return {"path": str(keycloak.log_file), "start-at": "beginning", "poll-interval": "20ms"}


class TestKeycloakAdminApiSource(KeycloakSourceContract):
    kind = "keycloak-admin-api"

    @pytest.fixture
    def source_settings(self, keycloak):
        return {
            "server": keycloak.base_url,
            "realms": [keycloak.realm],
            "client-id": keycloak.poller_client_id,
            "client-secret": keycloak.poller_client_secret,
            "admin-events": False,
            "interval": "300ms",
            "settle-lag": "2s",
            "start-at": "beginning",
        }
