"""Shared test setup: keep every spool a test makes out of the user's state directory."""

from __future__ import annotations

import pytest

# Real brokers and servers, started once per test session by the tests that ask for them.
pytest_plugins = ["tests.services.kafka_fixtures", "tests.services.keycloak_fixtures"]


@pytest.fixture(autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
