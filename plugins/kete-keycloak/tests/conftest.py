"""Helpers for the tests against real Keycloak servers (the servers come from the root conftest).

``kete`` runs either as a ``kete run`` subprocess (:class:`KeteProcess`) or in this test's event
loop (:class:`KeteInProcess`, when a test inspects the source or stops it at a precise point);
both write to a ``file`` sink that the tests read back.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kete_core.pipeline import Pipeline
from kete_core.testing import load_app, read_jsonl
from tests.services.keycloak_server import (
    KeycloakServer,
    add_realm_role_mapping,
    admin_token,
    client_token,
    create_user,
    delete_user,
    failed_login,
    logout,
    password_login,
    refresh,
    update_client,
    update_user,
)


def now_ms() -> int:
    return int(time.time() * 1000)


def unique(prefix: str = "kk") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sink_events(directory: Path) -> list[dict[str, Any]]:
    """Every event the file sink wrote under *directory*, file by file."""
    events: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.jsonl")):
        events += read_jsonl(path)
    return events


def written_line(path: Path, needle: str) -> bytes | None:
    """The first line the file sink wrote to *path* that holds *needle*, as bytes (None yet)."""
    lines = path.read_bytes().splitlines() if path.exists() else []
    return next((raw for raw in lines if needle.encode() in raw), None)


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


async def until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


def write_config(directory: Path, source: str, *, by_kind: bool = True) -> Path:
    """A configuration with *source* (a TOML ``[sources.x]`` table body) and a file sink in *directory*/out."""
    path = "${kindKebabCase}.jsonl" if by_kind else "all.jsonl"
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "kete.toml"
    config.write_text(
        f"""
[kete]
data-dir = "{directory / "data"}"

[sources.keycloak]
{source}

[routes.all]
destination.kind = "file"
destination.path = "{directory / "out" / path}"
"""
    )
    return config


class KeteInProcess:
    """A run of *config* on this test's event loop; :meth:`stop` stops it as SIGTERM would."""

    def __init__(self, config: Path) -> None:
        self.app = load_app(config)
        self.pipeline = Pipeline(self.app)
        self.task = asyncio.get_running_loop().create_task(self.pipeline.run())

    @property
    def source(self) -> Any:
        return self.app.sources[0]

    @property
    def status(self) -> str | None:
        """Why the source is not ready, or None."""
        return self.pipeline.source_status[self.source.name]

    async def stop(self) -> Any:
        self.pipeline.request_stop()
        return await asyncio.wait_for(self.task, 60)


@dataclass
class Script:
    """What the scripted Keycloak actions did, for the assertions."""

    usernames: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)
    started: int = 0


def session_of(tokens: dict[str, Any]) -> str:
    """The session id of a token response (the access token's ``sid`` claim)."""
    payload = tokens["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims.get("sid") or claims.get("session_state"))


def run_actions(server: KeycloakServer, tag: str, script: Script) -> None:
    """Real user and admin events in the test realm: logins that succeed and fail, a refresh, a
    logout, and a user's life (create, update, role mapping, client update, login, delete) done by
    the realm's own service account (kete-poller) and, once, by the master realm's admin."""
    base = server.base_url
    poller = client_token(base)  # CLIENT_LOGIN
    tokens = password_login(base, "alice", server.users["alice"])  # LOGIN
    failed_login(base, "bob")  # LOGIN_ERROR
    refreshed = refresh(base, tokens["refresh_token"])  # REFRESH_TOKEN
    logout(base, refreshed["refresh_token"])  # LOGOUT
    username, password = unique(tag), "pw-" + uuid.uuid4().hex
    user_id = create_user(base, poller, username, password=password)  # USER_CREATE
    update_user(base, poller, user_id, {"firstName": "Ada"})  # USER_UPDATE
    add_realm_role_mapping(base, poller, user_id, server.realm_roles[0])  # REALM_ROLE_MAPPING_CREATE
    update_client(base, poller, server.login_client_id, {"description": f"touched by {tag}"})  # CLIENT_UPDATE
    session = password_login(base, username, password)  # LOGIN
    update_user(base, admin_token(base), user_id, {"lastName": "Lovelace"})  # USER_UPDATE by master's admin
    delete_user(base, poller, user_id)  # USER_DELETE
    script.usernames.append(username)
    script.user_ids.append(user_id)
    script.sessions[username] = session_of(session)


@pytest.fixture(scope="session")
def kk() -> Any:
    """This module's helpers (test modules cannot import a conftest by name under importlib mode)."""
    return sys.modules[__name__]
