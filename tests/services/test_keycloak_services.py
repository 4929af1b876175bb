"""Tests of the Keycloak test servers themselves: real logins and admin calls, read back over the Admin REST API
and from the server's log file, on the pinned 26.2+ version and on the pre-26.2 (legacy) version."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.services.keycloak_server import (
    KEYCLOAK_LEGACY_VERSION,
    KEYCLOAK_VERSION,
    LOGIN_CLIENT_ID,
    OTHER_REALM,
    OTHER_USERS,
    POLLER_CLIENT_ID,
    POLLER_CLIENT_SECRET,
    POLLER_ROLES,
    REALM,
    REALM_ROLES,
    USERS,
    KeycloakHTTPError,
    KeycloakServer,
    add_realm_role_mapping,
    admin_call,
    admin_token,
    client_token,
    create_user,
    default_realm_files,
    delete_user,
    failed_login,
    get_events,
    group_members,
    has_event_ids,
    http_request,
    logout,
    password_login,
    refresh,
    update_client,
    update_user,
    version_tuple,
    wait_for_log,
)

pytest_plugins = ["tests.services.keycloak_fixtures"]

Event = dict[str, Any]
PLAIN_EVENT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARN) +\[org\.keycloak\.events\] \([^)]*\) (type|operationType)="
)


def now_ms() -> int:
    """Wall-clock epoch milliseconds (the server runs on this machine, so it shares the clock)."""
    return int(time.time() * 1000)


def eventually(
    fetch: Callable[[], list[Event]], done: Callable[[list[Event]], bool], timeout: float = 10.0
) -> list[Event]:
    """Call ``fetch`` until ``done`` accepts its result (events become visible when their transaction commits)."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def unique_name(prefix: str = "kete") -> str:
    """A username no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def realm_id(server: KeycloakServer, token: str, realm: str = REALM) -> str:
    """The internal id of ``realm`` (what events carry as ``realmId``)."""
    return str(admin_call(server.base_url, token, "GET", "", realm=realm)["id"])


def of_type(events: list[Event], kind: str, username: str | None = None) -> list[Event]:
    """User events of type ``kind`` (and, if given, for ``username``)."""
    return [
        e
        for e in events
        if e["type"] == kind and (username is None or e.get("details", {}).get("username") == username)
    ]


def admin_ops(events: list[Event], resource_path: str) -> list[tuple[str, str]]:
    """``(operationType, resourceType)`` of the admin events on ``resource_path`` (prefix match), in list order."""
    return [(e["operationType"], e["resourceType"]) for e in events if e["resourcePath"].startswith(resource_path)]


# --- no server needed --------------------------------------------------------------------------------------


def test_realm_files_match_the_constants() -> None:
    realms = {r["realm"]: r for r in (json.loads(p.read_text()) for p in default_realm_files())}
    assert set(realms) == {REALM, OTHER_REALM}
    for name, users in ((REALM, USERS), (OTHER_REALM, OTHER_USERS)):
        realm = realms[name]
        assert realm["eventsEnabled"] and realm["adminEventsEnabled"] and realm["adminEventsDetailsEnabled"]
        assert realm["eventsListeners"] == ["jboss-logging"]
        assert {"LOGIN", "LOGIN_ERROR", "LOGOUT", "REFRESH_TOKEN", "CODE_TO_TOKEN"} <= set(realm["enabledEventTypes"])
        clients = {c["clientId"]: c for c in realm["clients"]}
        poller, login = clients[POLLER_CLIENT_ID], clients[LOGIN_CLIENT_ID]
        assert poller["secret"] == POLLER_CLIENT_SECRET and poller["serviceAccountsEnabled"]
        assert not poller["publicClient"]
        assert login["publicClient"] and login["directAccessGrantsEnabled"]
        people = {u["username"]: u for u in realm["users"] if "serviceAccountClientId" not in u}
        assert {n: u["credentials"][0]["value"] for n, u in people.items()} == dict(users)
        (service_account,) = [u for u in realm["users"] if u.get("serviceAccountClientId") == POLLER_CLIENT_ID]
        assert tuple(service_account["clientRoles"]["realm-management"]) == POLLER_ROLES
    assert {r["name"] for r in realms[REALM]["roles"]["realm"]} == set(REALM_ROLES)


def test_pinned_versions() -> None:
    assert version_tuple(KEYCLOAK_VERSION) >= (26, 2) and has_event_ids(KEYCLOAK_VERSION)
    assert (26, 0) <= version_tuple(KEYCLOAK_LEGACY_VERSION) < (26, 2) and not has_event_ids(KEYCLOAK_LEGACY_VERSION)


# --- the current (26.2+) server ----------------------------------------------------------------------------


@pytest.mark.keycloak
def test_server_handles(keycloak: KeycloakServer) -> None:
    assert keycloak.version == KEYCLOAK_VERSION and keycloak.supports_event_ids
    assert keycloak.base_url.startswith("http://127.0.0.1:")
    assert keycloak.management_url.startswith("http://127.0.0.1:")
    status, _, health = http_request("GET", f"{keycloak.management_url}/health/ready")
    assert status == 200 and health["status"] == "UP"
    # kc.sh and the JVM it runs share the server's process group.
    assert keycloak.pid is not None and keycloak.running
    commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in group_members(keycloak.pid)]
    assert any(b"java" in command for command in commands)
    assert keycloak.log_file.is_file()
    # The master realm's bootstrap admin can administer the test realm.
    assert admin_call(keycloak.base_url, admin_token(keycloak.base_url), "GET", "")["realm"] == REALM


@pytest.mark.keycloak
def test_user_and_admin_events_reach_the_rest_api(keycloak: KeycloakServer) -> None:
    base = keycloak.base_url
    since = now_ms() - 1
    tokens = password_login(base, "alice", USERS["alice"])
    assert tokens["access_token"] and tokens["refresh_token"]
    assert failed_login(base, "alice")["error"] == "invalid_grant"
    poller = client_token(base)
    username = unique_name()
    user_id = create_user(base, poller, username)

    def fetch() -> list[Event]:
        return get_events(base, poller, dateFrom=str(since), direction="asc", max=1000)

    events = eventually(fetch, lambda evs: bool(of_type(evs, "LOGIN_ERROR", "alice")))
    login, error = of_type(events, "LOGIN", "alice")[-1], of_type(events, "LOGIN_ERROR", "alice")[-1]
    assert login["clientId"] == LOGIN_CLIENT_ID and login["userId"] and login["sessionId"]
    assert login["ipAddress"] == "127.0.0.1"
    assert error["error"] == "invalid_user_credentials" and "sessionId" not in error
    assert of_type(events, "CLIENT_LOGIN", f"service-account-{POLLER_CLIENT_ID}")
    # 26.2+: every event has a unique id, direction=asc sorts oldest first, dateFrom takes epoch milliseconds.
    ids = [e["id"] for e in events]
    assert all(ids) and len(set(ids)) == len(ids)
    times = [e["time"] for e in events]
    assert times == sorted(times) and times[0] >= since
    the_realm_id = realm_id(keycloak, poller)
    assert the_realm_id != REALM and {e["realmId"] for e in events} == {the_realm_id}
    newest_first = [e["time"] for e in get_events(base, poller, dateFrom=str(since), max=1000)]
    assert newest_first == sorted(newest_first, reverse=True)
    later = get_events(base, poller, dateFrom=str(error["time"]), direction="asc", max=1000)
    assert later and all(e["time"] >= error["time"] for e in later)
    assert error["id"] in {e["id"] for e in later}
    if login["time"] < error["time"]:
        assert login["id"] not in {e["id"] for e in later}
    window = get_events(base, poller, dateFrom=str(login["time"]), dateTo=str(login["time"]), direction="asc")
    assert login["id"] in {e["id"] for e in window} and all(e["time"] == login["time"] for e in window)
    only_errors = get_events(base, poller, dateFrom=str(since), type=["LOGIN_ERROR"], direction="asc")
    assert only_errors and {e["type"] for e in only_errors} == {"LOGIN_ERROR"}

    def fetch_admin() -> list[Event]:
        return get_events(base, poller, admin=True, dateFrom=str(since), direction="asc", max=1000)

    admin_events = eventually(fetch_admin, lambda evs: bool(admin_ops(evs, f"users/{user_id}")))
    (created,) = [e for e in admin_events if e["resourcePath"] == f"users/{user_id}"]
    assert (created["operationType"], created["resourceType"]) == ("CREATE", "USER")
    assert created["id"] and created["realmId"] == the_realm_id and created["time"] >= since
    assert json.loads(created["representation"])["username"] == username
    auth = created["authDetails"]
    # The acting service account lives in the same realm; clientId here is the client's internal id.
    assert auth["realmId"] == the_realm_id and auth["clientId"] != POLLER_CLIENT_ID and auth["ipAddress"] == "127.0.0.1"
    assert auth["userId"] == of_type(events, "CLIENT_LOGIN")[-1]["userId"]


@pytest.mark.keycloak
def test_session_and_admin_lifecycle_events(keycloak: KeycloakServer) -> None:
    base = keycloak.base_url
    since = now_ms() - 1
    tokens = password_login(base, "bob", USERS["bob"])
    refreshed = refresh(base, tokens["refresh_token"])
    logout(base, refreshed["refresh_token"])
    with pytest.raises(KeycloakHTTPError) as after_logout:
        refresh(base, refreshed["refresh_token"])
    assert after_logout.value.status == 400

    admin = admin_token(base)
    username = unique_name()
    user_id = create_user(base, admin, username, password="a-password-1")
    update_user(base, admin, user_id, {"firstName": "Ada"})
    add_realm_role_mapping(base, admin, user_id, REALM_ROLES[0])
    login_client_uuid = update_client(base, admin, LOGIN_CLIENT_ID, {"description": f"touched by {username}"})
    password_login(base, username, "a-password-1")
    delete_user(base, admin, user_id)

    poller = client_token(base)
    events = eventually(
        lambda: get_events(base, poller, dateFrom=str(since), direction="asc", max=1000),
        lambda evs: bool(of_type(evs, "LOGIN", username)),
    )
    bob_id = of_type(events, "LOGIN", "bob")[-1]["userId"]
    kinds = [e["type"] for e in events if e.get("userId") == bob_id]
    assert kinds[:3] == ["LOGIN", "REFRESH_TOKEN", "LOGOUT"], kinds
    assert of_type(events, "REFRESH_TOKEN_ERROR")

    admin_events = eventually(
        lambda: get_events(base, poller, admin=True, dateFrom=str(since), direction="asc", max=1000),
        lambda evs: ("DELETE", "USER") in admin_ops(evs, f"users/{user_id}"),
    )
    assert admin_ops(admin_events, f"users/{user_id}") == [
        ("CREATE", "USER"),
        ("UPDATE", "USER"),
        ("CREATE", "REALM_ROLE_MAPPING"),
        ("DELETE", "USER"),
    ]
    mapping = next(e for e in admin_events if e["resourceType"] == "REALM_ROLE_MAPPING")
    assert mapping["resourcePath"] == f"users/{user_id}/role-mappings/realm"
    assert json.loads(mapping["representation"])[0]["name"] == REALM_ROLES[0]
    (client_update,) = [e for e in admin_events if e["resourcePath"] == f"clients/{login_client_uuid}"]
    assert client_update["operationType"] == "UPDATE" and client_update["resourceType"] == "CLIENT"
    # The bootstrap admin acts from the master realm, so authDetails.realmId is not the event's realmId.
    master_id = realm_id(keycloak, admin, "master")
    assert {e["authDetails"]["realmId"] for e in admin_events if e["resourcePath"].startswith(f"users/{user_id}")} == {
        master_id
    }
    filtered = get_events(
        base, poller, admin=True, dateFrom=str(since), operationTypes=["DELETE"], resourceTypes=["USER"]
    )
    assert [e["resourcePath"] for e in filtered] == [f"users/{user_id}"]


@pytest.mark.keycloak
def test_events_are_logged_to_the_log_file(keycloak: KeycloakServer) -> None:
    base = keycloak.base_url
    password_login(base, "carol", USERS["carol"])
    failed_login(base, "carol")
    user_id = create_user(base, client_token(base), unique_name())

    login = wait_for_log(keycloak.log_file, 'type="LOGIN"', 'username="carol"')
    error = wait_for_log(keycloak.log_file, 'type="LOGIN_ERROR"', 'username="carol"')
    created = wait_for_log(keycloak.log_file, 'operationType="CREATE"', f'resourcePath="users/{user_id}"')
    for line in (login, error, created):
        assert PLAIN_EVENT_LINE.match(line), line
        assert f'realmName="{REALM}"' in line
    assert " INFO " in login and " WARN " in error and 'error="invalid_user_credentials"' in error
    assert 'resourceType="USER"' in created and " INFO " in created


@pytest.mark.keycloak
def test_realms_are_separate(keycloak: KeycloakServer) -> None:
    base = keycloak.base_url
    since = now_ms() - 1
    (name, password), *_ = OTHER_USERS.items()
    password_login(base, name, password, realm=OTHER_REALM)
    other_poller = client_token(base, realm=OTHER_REALM)
    events = eventually(
        lambda: get_events(base, other_poller, realm=OTHER_REALM, dateFrom=str(since), direction="asc"),
        lambda evs: bool(of_type(evs, "LOGIN", name)),
    )
    assert {e["realmId"] for e in events} == {realm_id(keycloak, other_poller, OTHER_REALM)}
    test_poller = client_token(base)
    assert not of_type(get_events(base, test_poller, dateFrom=str(since), max=1000), "LOGIN", name)
    # A realm's service account has no rights in another realm.
    with pytest.raises(KeycloakHTTPError) as denied:
        get_events(base, test_poller, realm=OTHER_REALM)
    assert denied.value.status in (401, 403)


@pytest.mark.keycloak
def test_json_log_file(keycloak_json_log: KeycloakServer) -> None:
    base = keycloak_json_log.base_url
    password_login(base, "alice", USERS["alice"])
    failed_login(base, "bob")
    user_id = create_user(base, client_token(base), unique_name())
    lines = [
        wait_for_log(keycloak_json_log.log_file, '"org.keycloak.events"', r"type=\"LOGIN\"", r"username=\"alice\""),
        wait_for_log(keycloak_json_log.log_file, '"org.keycloak.events"', r"type=\"LOGIN_ERROR\"", r"username=\"bob\""),
        wait_for_log(keycloak_json_log.log_file, '"org.keycloak.events"', f'resourcePath=\\"users/{user_id}\\"'),
    ]
    records = [json.loads(line) for line in lines]
    assert [r["level"] for r in records] == ["INFO", "WARN", "INFO"]
    assert all(r["loggerName"] == "org.keycloak.events" and r["timestamp"] for r in records)
    assert records[0]["message"].startswith('type="LOGIN", realmId="')
    assert records[2]["message"].startswith('operationType="CREATE", realmId="')


@pytest.mark.keycloak
def test_stop_restart_and_orphan_protection(fresh_keycloak: KeycloakServer) -> None:
    server = fresh_keycloak
    try:
        username = unique_name()
        create_user(server.base_url, client_token(server.base_url), username)
        pgid = server.pid
        assert pgid is not None and len(group_members(pgid)) >= 1
        server.stop()
        assert not server.killed, "Keycloak needed SIGKILL to stop"
        assert group_members(pgid) == [] and not server.running

        # A restart keeps the data folder (only a new server object with a new folder starts clean).
        server.start()
        assert admin_call(server.base_url, admin_token(server.base_url), "GET", "users", params={"username": username})
        # If kc.sh itself is SIGKILLed, its JVM must not live on (parent-death signal via setpriv).
        pgid = server.pid
        assert pgid is not None
        os.kill(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert group_members(pgid) == []
    finally:
        server.stop()


# --- the legacy (pre-26.2) server ----------------------------------------------------------------------------


@pytest.mark.keycloak
def test_legacy_events_have_no_ids(keycloak_legacy: KeycloakServer) -> None:
    base = keycloak_legacy.base_url
    assert keycloak_legacy.version == KEYCLOAK_LEGACY_VERSION and not keycloak_legacy.supports_event_ids
    since = now_ms() - 1
    password_login(base, "alice", USERS["alice"])
    failed_login(base, "alice")
    poller = client_token(base)
    user_id = create_user(base, poller, unique_name())
    today = dt.datetime.fromtimestamp(since / 1000, dt.UTC).date()
    day_before = (today - dt.timedelta(days=1)).isoformat()

    events = eventually(
        lambda: [e for e in get_events(base, poller, dateFrom=day_before, max=1000) if e["time"] >= since],
        lambda evs: bool(of_type(evs, "LOGIN_ERROR", "alice")),
    )
    assert of_type(events, "LOGIN", "alice") and of_type(events, "CLIENT_LOGIN")
    assert all("id" not in e for e in events)
    # Before 26.2 the list is always newest first: direction is ignored, and dateFrom only takes whole days.
    times = [e["time"] for e in events]
    assert times == sorted(times, reverse=True)
    asc = [e["time"] for e in get_events(base, poller, dateFrom=day_before, direction="asc", max=1000)]
    assert asc == sorted(asc, reverse=True)
    with pytest.raises(KeycloakHTTPError) as epoch_ms:
        get_events(base, poller, dateFrom=str(since))
    assert epoch_ms.value.status == 400

    admin_events = get_events(base, poller, admin=True, dateFrom=day_before)
    created = [e for e in admin_events if e["resourcePath"] == f"users/{user_id}"]
    assert [(e["operationType"], e["resourceType"]) for e in created] == [("CREATE", "USER")]
    assert "id" not in created[0] and created[0]["representation"]
    wait_for_log(keycloak_legacy.log_file, 'type="LOGIN"', 'username="alice"')
    line = wait_for_log(keycloak_legacy.log_file, 'operationType="CREATE"', f'resourcePath="users/{user_id}"')
    assert PLAIN_EVENT_LINE.match(line), line
