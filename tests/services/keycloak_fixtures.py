"""Session-scoped pytest fixtures that run real Keycloak servers.

Load them with ``pytest_plugins = ["tests.services.keycloak_fixtures"]`` (in the root conftest or a test module)
and mark the tests ``@pytest.mark.keycloak``:

* ``keycloak``: a :class:`~tests.services.keycloak_server.KeycloakServer` of the pinned 26.2+ version (event ids,
  epoch-ms ``dateFrom``/``dateTo``, ``direction=asc``).
* ``keycloak_legacy``: the pinned pre-26.2 version (no event ids, newest-first only, whole-day ``dateFrom``).
* ``keycloak_json_log``: the 26.2+ version with ``--log-file-output=json`` (its ``log_file`` holds JSON lines).
* ``fresh_keycloak``: a 26.2+ server of the test's own (function scope, ~15-20 s), for tests that stop, restart
  or break it.

Each is started on first use and stopped at the end of the session; every session gets empty databases with
the realms of ``tests/services/keycloak/*-realm.json``. Tests that change realm settings or users should undo
it or use names of their own. A missing Java (or Maven, before the first download) skips these tests locally and
fails them when ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kete_core.testing.services import started

from .keycloak_server import KEYCLOAK_LEGACY_VERSION, KEYCLOAK_VERSION, KeycloakServer


def _run(workdir: Path, version: str, **options: Any) -> Iterator[KeycloakServer]:
    yield from started(KeycloakServer(version, workdir=workdir, **options))


@pytest.fixture(scope="session")
def keycloak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeycloakServer]:
    """Keycloak of the pinned current version (26.2+), started once per session and stopped at its end."""
    yield from _run(tmp_path_factory.mktemp("keycloak"), KEYCLOAK_VERSION)


@pytest.fixture(scope="session")
def keycloak_legacy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeycloakServer]:
    """Keycloak of the pinned pre-26.2 version, started once per session and stopped at its end."""
    yield from _run(tmp_path_factory.mktemp("keycloak-legacy"), KEYCLOAK_LEGACY_VERSION)


@pytest.fixture(scope="session")
def keycloak_json_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeycloakServer]:
    """Keycloak of the current version whose ``log_file`` is written as JSON lines (``--log-file-output=json``)."""
    yield from _run(tmp_path_factory.mktemp("keycloak-json-log"), KEYCLOAK_VERSION, log_file_output="json")


@pytest.fixture
def fresh_keycloak(tmp_path: Path) -> Iterator[KeycloakServer]:
    """A started current-version Keycloak of this test's own, stopped (if still running) after it."""
    yield from _run(tmp_path / "keycloak", KEYCLOAK_VERSION)
