"""Shared test setup: keep every spool a test makes out of the user's state directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kete_core.config.document import data_dir_name

# Real brokers and servers, started once per test session by the tests that ask for them: every
# tests/services/*_fixtures.py module, so a new service needs no line here.
pytest_plugins = sorted(
    f"tests.services.{path.stem}" for path in (Path(__file__).parent / "tests" / "services").glob("*_fixtures.py")
)

# The user's own state folder, as kete would find it, read before any test changes the environment.
USER_STATE = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "kete"


def _written_by(session_files: Path) -> list[str]:
    """The data dirs in the user's state folder that belong to configuration files of this test
    session (found by name: kete names a default data dir after its file's absolute path)."""
    if not USER_STATE.is_dir():
        return []
    ours = {data_dir_name(path) for pattern in ("*.toml", "*.properties") for path in session_files.rglob(pattern)}
    return sorted(entry.name for entry in USER_STATE.iterdir() if entry.name in ours)


@pytest.fixture(scope="session", autouse=True)
def _session_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """For the whole session, before any module or session fixture runs kete: a temporary state
    home. Afterwards, check that no test wrote into the user's state folder anyway."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("session-state")))
        yield
    written = _written_by(tmp_path_factory.getbasetemp())
    if written:
        pytest.fail(f"tests wrote into the user's state folder {USER_STATE}: {', '.join(written)}")


@pytest.fixture(autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
