"""Shared test setup: keep every spool a test makes out of the user's state directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Real brokers and servers, started once per test session by the tests that ask for them.
pytest_plugins = ["tests.services.kafka_fixtures", "tests.services.keycloak_fixtures"]

# The user's own state folder, as kete would find it, read before any test changes the environment.
USER_STATE = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "kete"


def _listing(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()} if folder.is_dir() else set()


@pytest.fixture(scope="session", autouse=True)
def _session_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """For the whole session, before any module or session fixture runs kete: a temporary state
    home. Afterwards, check that no test wrote into the user's state folder anyway."""
    before = _listing(USER_STATE)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("session-state")))
        yield
    written = _listing(USER_STATE) - before
    if written:
        pytest.fail(f"tests wrote into the user's state folder {USER_STATE}: {', '.join(sorted(written))}")


@pytest.fixture(autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
