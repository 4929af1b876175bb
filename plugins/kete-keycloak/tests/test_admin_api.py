"""The keycloak-admin-api source against real Keycloak servers (26.7 with event ids, 26.1 without)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from typing import Any

import pytest

from kete_core.testing.outage import TcpRelay
from tests.services.keycloak_server import (
    admin_call,
    admin_token,
    client_token,
    failed_login,
    get_events,
    http_request,
    password_login,
)

pytestmark = pytest.mark.keycloak


def source(server: Any, /, **settings: Any) -> str:
    """The TOML body of a keycloak-admin-api source polling *server*'s test realm."""
    values = {
        "kind": "keycloak-admin-api",
        "server": server.base_url,
        "realms": [server.realm],
        "client-id": server.poller_client_id,
        "client-secret": server.poller_client_secret,
        "interval": "300ms",
        "settle-lag": "3s",
        "page-size": 5,
        "max-page-size": 20,
    } | settings
    return "\n".join(f"{key} = {json.dumps(value)}" for key, value in values.items() if value is not None)


def stored(server: Any, since: int, realm: str | None = None) -> list[dict[str, Any]]:
    """Every user and admin event Keycloak stored in *realm* from *since* on (read as the master admin,
    whose logins happen in the master realm and so add nothing here)."""
    token = admin_token(server.base_url)
    realm = realm or server.realm
    found = []
    for admin in (False, True):
        found += get_events(server.base_url, token, realm=realm, admin=admin, dateFrom=str(since), direction="asc",
                            max=100_000)  # fmt: skip
    return found


def realm_id(server: Any, realm: str) -> str:
    return admin_call(server.base_url, admin_token(server.base_url), "GET", "", realm=realm)["id"]


def test_every_stored_event_arrives_once_across_a_restart(keycloak, tmp_path, spawn_kete, kk):
    out = tmp_path / "out"
    config = kk.write_config(tmp_path, source(keycloak))
    started = kk.now_ms()
    kete = spawn_kete(config)
    # kete's own token request is a CLIENT_LOGIN of the realm it polls: it shows kete is polling.
    kk.wait_until(lambda: kk.sink_events(out), what="kete's first event")
    script = kk.Script()
    kk.run_actions(keycloak, "before", script)
    kk.wait_until(
        lambda: any(e.get("resourcePath") == f"users/{script.user_ids[0]}" and e["operationType"] == "DELETE"
                    for e in kk.sink_events(out) if "operationType" in e),
        what="the first round of events",
    )  # fmt: skip
    assert kete.stop() == 0, kete.log
    kk.run_actions(keycloak, "while-down", script)
    kete = spawn_kete(config)
    kk.run_actions(keycloak, "after", script)

    def delivered_all() -> bool:
        ids = {e["id"] for e in kk.sink_events(out)}
        return {e["id"] for e in stored(keycloak, started)} <= ids

    kk.wait_until(delivered_all, what="every stored event")
    assert kete.stop() == 0, kete.log

    events = kk.sink_events(out)
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)), [k for k, n in Counter(ids).items() if n > 1]
    # Exactly what Keycloak stored: everything from kete's start on, and at most the settle-lag
    # window before it (start-at = "now" reads back settle-lag).
    assert (
        {e["id"] for e in stored(keycloak, started)} <= set(ids) <= {e["id"] for e in stored(keycloak, started - 4000)}
    )

    test_realm_id = realm_id(keycloak, keycloak.realm)
    assert {(e["realmName"], e["realmId"]) for e in events} == {(keycloak.realm, test_realm_id)}
    users = kk.read_jsonl(out / "event.jsonl")
    admins = kk.read_jsonl(out / "admin-event.jsonl")
    assert all("type" in e for e in users) and all("operationType" in e for e in admins)
    for username in script.usernames:
        (login,) = [e for e in users if e["type"] == "LOGIN" and e["details"].get("username") == username]
        assert login["clientId"] == keycloak.login_client_id and login["ipAddress"] == "127.0.0.1"
        assert login["sessionId"] == script.sessions[username]
    for kind in ("LOGIN_ERROR", "REFRESH_TOKEN", "LOGOUT"):
        assert len([e for e in users if e["type"] == kind and e["time"] >= started]) >= 3, kind
    assert all(e["error"] == "invalid_user_credentials" for e in users if e["type"] == "LOGIN_ERROR")
    master_id = realm_id(keycloak, "master")
    for username, user_id in zip(script.usernames, script.user_ids, strict=True):
        life = [e for e in admins if e["resourcePath"].startswith(f"users/{user_id}")]
        assert [(e["operationType"], e["resourceType"]) for e in life] == [
            ("CREATE", "USER"), ("UPDATE", "USER"), ("CREATE", "REALM_ROLE_MAPPING"), ("UPDATE", "USER"),
            ("DELETE", "USER"),
        ]  # fmt: skip
        assert json.loads(life[0]["representation"])["username"] == username
        # The service account acts from the test realm, the bootstrap admin from master.
        assert [e["authDetails"]["realmId"] for e in life] == [test_realm_id] * 3 + [master_id, test_realm_id]
        assert life[0]["resourceTypeAsString"] == "USER"
    assert len([e for e in admins if e["resourceType"] == "CLIENT" and e["operationType"] == "UPDATE"]) >= 3


async def test_wrong_secret_and_missing_role_are_clear_errors(keycloak, tmp_path, kk, caplog):
    base = keycloak.base_url
    config = kk.write_config(tmp_path / "secret", source(keycloak, **{"client-secret": "not-the-secret"}))
    kete = kk.KeteInProcess(config)
    reason = await kk.until(lambda: kete.status, what="the source to report a problem")
    assert "authentication of client 'kete-poller' failed: wrong client id or client secret" in reason
    assert "HTTP 401" in reason and "Invalid client credentials" in reason
    await kete.stop()
    assert "wrong client id or client secret" in caplog.text and "not-the-secret" not in caplog.text

    # A client whose service account has no realm-management roles.
    admin = admin_token(base)
    client_id, secret = kk.unique("no-roles"), "no-roles-secret"
    admin_call(base, admin, "POST", "clients", json_body={
        "clientId": client_id, "secret": secret, "publicClient": False, "serviceAccountsEnabled": True,
        "standardFlowEnabled": False,
    })  # fmt: skip
    try:
        settings = {"client-id": client_id, "client-secret": secret}
        kete = kk.KeteInProcess(kk.write_config(tmp_path / "role", source(keycloak, **settings)))
        reason = await kk.until(lambda: kete.status, what="the source to report a problem")
        assert f"the service account of client '{client_id}' lacks the role 'view-events'" in reason
        assert "HTTP 403" in reason
        await kete.stop()
    finally:
        (found,) = admin_call(base, admin_token(base), "GET", "clients", params={"clientId": client_id})
        admin_call(base, admin_token(base), "DELETE", f"clients/{found['id']}")


async def test_a_missing_role_names_the_client_that_holds_it(keycloak, tmp_path, kk):
    """Issue 16 item 11: master's admin roles are on the '<realm>-realm' clients of master, for
    master itself too (master has no realm-management client)."""
    base = keycloak.base_url
    client_id, secret = kk.unique("master-no-roles"), "master-no-roles-secret"
    admin_call(base, admin_token(base), "POST", "clients", realm="master", json_body={
        "clientId": client_id, "secret": secret, "publicClient": False, "serviceAccountsEnabled": True,
        "standardFlowEnabled": False,
    })  # fmt: skip
    try:
        for realm in ("master", keycloak.realm):
            settings = {"client-id": client_id, "client-secret": secret, "client-realm": "master", "realms": [realm]}
            kete = kk.KeteInProcess(kk.write_config(tmp_path / realm, source(keycloak, **settings)))
            reason = await kk.until(lambda kete=kete: kete.status, what="the source to report a problem")
            await kete.stop()
            assert f"lacks the role 'view-events' of the '{realm}-realm' client in realm 'master'" in reason, reason
            assert "realm-management" not in reason and "HTTP 403" in reason
        # A client of another realm cannot read this one at all.
        settings = {"client-realm": keycloak.other_realm, "client-id": client_id, "client-secret": secret}
        kete = kk.KeteInProcess(kk.write_config(tmp_path / "other", source(keycloak, **settings)))
        assert kete.source._missing_role(keycloak.realm).endswith(
            f"lives in realm '{keycloak.other_realm}', and only a client of realm '{keycloak.realm}' (role "
            f"'view-events' of its realm-management client) or of realm 'master' can read realm '{keycloak.realm}'"
        )
        await kete.stop()
    finally:
        (found,) = admin_call(base, admin_token(base), "GET", "clients", realm="master", params={"clientId": client_id})
        admin_call(base, admin_token(base), "DELETE", f"clients/{found['id']}", realm="master")


async def test_forced_legacy_mode_does_not_call_the_server_old(keycloak, tmp_path, kk, caplog):
    kete = kk.KeteInProcess(kk.write_config(tmp_path, source(keycloak, mode="legacy")))
    await kk.until(lambda: "legacy mode" in caplog.text, what="the legacy-mode warning")
    await kete.stop()
    assert 'mode = "legacy" is set: legacy mode; events are told apart by their content' in caplog.text
    assert "older than 26.2" not in caplog.text


async def test_an_admin_event_has_the_original_s_bytes(keycloak, tmp_path, kk):
    """Issue 16 item 17: the KETE JSON of an admin event read from the REST API is what the original
    writes for the same event inside Keycloak 26.x: Jackson over AdminEvent, ending with details and
    resourceId (the last segment of resourcePath)."""
    base, out = keycloak.base_url, tmp_path / "out"
    kete = kk.KeteInProcess(kk.write_config(tmp_path, source(keycloak)))
    await kk.until(lambda: kk.sink_events(out), what="kete's first event")
    user_id = await asyncio.to_thread(kk.create_user, base, client_token(base), kk.unique("bytes"))

    needle = f'"resourcePath":"users/{user_id}"'
    written = await kk.until(lambda: kk.written_line(out / "admin-event.jsonl", needle), what="the USER CREATE event")
    await kete.stop()
    (rest,) = [e for e in get_events(base, admin_token(base), admin=True, resourcePath=f"users/{user_id}")
               if e["operationType"] == "CREATE"]  # fmt: skip
    auth = rest["authDetails"]
    original = (
        f'{{"id":"{rest["id"]}","time":{rest["time"]},"realmId":"{rest["realmId"]}","realmName":"{keycloak.realm}",'
        f'"authDetails":{{"realmId":"{auth["realmId"]}","realmName":"{keycloak.realm}","clientId":"{auth["clientId"]}",'
        f'"userId":"{auth["userId"]}","ipAddress":"127.0.0.1"}},"resourceType":"USER","operationType":"CREATE",'
        f'"resourcePath":"users/{user_id}","representation":{json.dumps(rest["representation"])},"error":null,'
        f'"details":null,"resourceTypeAsString":"USER","resourceId":"{user_id}"}}'
    )
    assert written == original.encode()


async def test_legacy_server(keycloak_legacy, tmp_path, kk, caplog):
    """26.1: no ids, newest first, whole days: pages are read back to the checkpoint, events told
    apart by content; a restart re-emits nothing."""
    server = keycloak_legacy
    out = tmp_path / "out"
    config = kk.write_config(tmp_path, source(server, **{"page-size": 3, "max-page-size": 3}))
    started = kk.now_ms()
    caplog.set_level(logging.INFO, "kete.keycloak")
    kete = kk.KeteInProcess(config)
    await kk.until(lambda: kk.sink_events(out), what="kete's first event")
    assert kete.source.mode == "legacy"
    assert "older than 26.2" in caplog.text and "duplicates are possible" in caplog.text
    script = kk.Script()
    await asyncio.to_thread(kk.run_actions, server, "legacy-1", script)
    await kk.until(lambda: any(e.get("resourcePath") == f"users/{script.user_ids[0]}" and e["operationType"] == "DELETE"
                               for e in kk.sink_events(out) if "operationType" in e))  # fmt: skip
    await kete.stop()
    await asyncio.to_thread(kk.run_actions, server, "legacy-2", script)
    kete = kk.KeteInProcess(config)

    def key(event: dict[str, Any]) -> str:
        """The event as Keycloak returned it: without what kete's KETE-shaped output adds (realm
        names, null fields, resourceTypeAsString and resourceId)."""

        def bare(value: Any) -> Any:
            if isinstance(value, dict):
                return {
                    k: bare(v)
                    for k, v in value.items()
                    if v is not None and k not in ("realmName", "resourceTypeAsString", "resourceId")
                }
            return value

        return json.dumps(bare(event), sort_keys=True)

    def truth(since: int) -> Counter[str]:
        day = "2000-01-01"  # the legacy API takes whole days; filter by time here
        token = admin_token(server.base_url)
        found = []
        for admin in (False, True):
            found += [e for e in get_events(server.base_url, token, admin=admin, dateFrom=day, max=100_000)
                      if e["time"] >= since]  # fmt: skip
        return Counter(map(key, found))

    await kk.until(lambda: not (truth(started) - Counter(map(key, kk.sink_events(out)))), what="every stored event")
    await kete.stop()
    delivered = Counter(map(key, kk.sink_events(out)))
    assert max(delivered.values()) == 1
    assert not truth(started) - delivered  # nothing lost
    assert not delivered - truth(started - 4000)  # nothing that Keycloak did not store
    assert {e["realmName"] for e in kk.sink_events(out)} == {server.realm}
    assert all(e["id"] is None for e in kk.sink_events(out))


async def test_gap_detection(keycloak, tmp_path, kk, caplog):
    """Events read last were deleted from Keycloak's store while kete was down; and a millisecond
    holds more events than one page may."""
    base, realm = keycloak.base_url, keycloak.other_realm
    (user, password), *_ = keycloak.other_users.items()
    out = tmp_path / "out"
    settings = {"realms": [realm], "client-realm": realm, "page-size": 2, "max-page-size": 2, "settle-lag": "2s"}
    config = kk.write_config(tmp_path, source(keycloak, **settings))
    kete = kk.KeteInProcess(config)
    await asyncio.to_thread(password_login, base, user, password, realm=realm)
    await kk.until(lambda: [e for e in kk.sink_events(out) if e.get("type") == "LOGIN"], what="the login")
    assert kete.source.gaps == 0
    await kete.stop()

    poller = client_token(base, realm=realm)
    for stream in ("events", "admin-events"):  # what expiration would do, all at once
        http_request("DELETE", f"{base}/admin/realms/{realm}/{stream}", token=poller)
    failed_login(base, user, realm=realm)
    caplog.set_level(logging.WARNING, "kete.keycloak")
    kete = kk.KeteInProcess(config)
    await kk.until(lambda: [e for e in kk.sink_events(out) if e.get("type") == "LOGIN_ERROR"], what="the new event")
    assert kete.source.gaps == 1
    assert f"possible gap in realm '{realm}' events: the events read last" in caplog.text

    # partialImport creates users in one transaction: their admin events share milliseconds.
    names = [kk.unique("bulk") for _ in range(12)]
    admin_call(base, admin_token(base), "POST", "partialImport", realm=realm,
               json_body={"ifResourceExists": "SKIP", "users": [{"username": n, "enabled": True} for n in names]})  # fmt: skip
    admin_events = [e for e in stored(keycloak, 0, realm) if "operationType" in e]
    ties = Counter(
        e["time"] for e in admin_events if json.loads(e.get("representation") or "{}").get("username") in names
    )
    assert max(ties.values()) > 2, "partialImport produced no millisecond with more than a page of events"

    def created() -> Counter[str]:
        return Counter(json.loads(e.get("representation") or "{}").get("username") for e in kk.sink_events(out)
                       if e.get("operationType") == "CREATE")  # fmt: skip

    await kk.until(lambda: set(names) <= set(created()), what="every created user")
    await kete.stop()
    assert kete.source.gaps >= 2
    assert "share the millisecond" in caplog.text
    assert all(created()[name] == 1 for name in names)
    ids = [e["id"] for e in kk.sink_events(out)]
    assert len(ids) == len(set(ids))
    for username in names:
        found = admin_call(base, admin_token(base), "GET", "users", realm=realm, params={"username": username})
        admin_call(base, admin_token(base), "DELETE", f"users/{found[0]['id']}", realm=realm)


async def test_outage_not_ready_then_catches_up(keycloak, tmp_path, kk, caplog):
    proxy = TcpRelay(keycloak.http_port)
    await proxy.open()
    out = tmp_path / "out"
    config = kk.write_config(
        tmp_path, source(keycloak, server=f"http://127.0.0.1:{proxy.port}", **{"max-backoff": "1s"})
    )
    kete = kk.KeteInProcess(config)
    await kk.until(lambda: kk.sink_events(out), what="kete's first event")
    assert kete.status is None
    caplog.set_level(logging.INFO, "kete.keycloak")
    await proxy.close()
    reason = await kk.until(lambda: kete.status, what="the source to be not ready")
    assert "cannot reach Keycloak" in reason
    script = kk.Script()
    started = kk.now_ms()
    await asyncio.to_thread(kk.run_actions, keycloak, "outage", script)
    await asyncio.sleep(1.5)  # a few failed attempts
    assert kete.status is not None
    await proxy.open()
    await kk.until(lambda: kete.status is None, what="the source to be ready again")
    await kk.until(lambda: {e["id"] for e in stored(keycloak, started)} <= {e["id"] for e in kk.sink_events(out)},
                   what="the events of the outage")  # fmt: skip
    await kete.stop()
    await proxy.close()
    ids = [e["id"] for e in kk.sink_events(out)]
    assert len(ids) == len(set(ids))
    assert kete.source.gaps == 0
    assert "cannot reach Keycloak" in caplog.text and "working again" in caplog.text


async def test_all_realms_with_a_master_service_account(keycloak, tmp_path, kk):
    """realms = "*": every realm the account sees, each event with its realm's name, and the acting
    admin's realm named too."""
    base = keycloak.base_url
    admin = admin_token(base)
    client_id, secret = kk.unique("master-poller"), "master-poller-secret"
    admin_call(base, admin, "POST", "clients", realm="master", json_body={
        "clientId": client_id, "secret": secret, "publicClient": False, "serviceAccountsEnabled": True,
        "standardFlowEnabled": False,
    })  # fmt: skip
    (client,) = admin_call(base, admin, "GET", "clients", realm="master", params={"clientId": client_id})
    account = admin_call(base, admin, "GET", f"clients/{client['id']}/service-account-user", realm="master")
    role = admin_call(base, admin, "GET", "roles/admin", realm="master")
    admin_call(base, admin, "POST", f"users/{account['id']}/role-mappings/realm", realm="master", json_body=[role])
    try:
        out = tmp_path / "out"
        settings = {"realms": "*", "client-id": client_id, "client-secret": secret, "client-realm": "master"}
        kete = kk.KeteInProcess(kk.write_config(tmp_path, source(keycloak, **settings)))
        await kk.until(lambda: kete.source.realm_names, what="the realm list")
        assert {keycloak.realm, keycloak.other_realm, "master"} <= set(kete.source.realm_names.values())
        await asyncio.sleep(1)  # the first polls set the start
        (dave, password), *_ = keycloak.other_users.items()
        await asyncio.to_thread(password_login, base, dave, password, realm=keycloak.other_realm)
        await asyncio.to_thread(password_login, base, "carol", keycloak.users["carol"])
        user_id = await asyncio.to_thread(kk.create_user, base, admin_token(base), kk.unique("star"))

        def seen() -> dict[str, list[dict[str, Any]]]:
            events = kk.sink_events(out)
            return {
                "dave": [
                    e for e in events if (e.get("details") or {}).get("username") == dave and e["type"] == "LOGIN"
                ],
                "carol": [
                    e for e in events if (e.get("details") or {}).get("username") == "carol" and e["type"] == "LOGIN"
                ],
                "create": [e for e in events if e.get("resourcePath") == f"users/{user_id}"],
            }

        found = await kk.until(lambda: all(seen().values()) and seen(), what="events of both realms")
        await kete.stop()
        assert found["dave"][0]["realmName"] == keycloak.other_realm
        assert found["carol"][0]["realmName"] == keycloak.realm
        (created,) = found["create"]
        assert created["realmName"] == keycloak.realm and created["authDetails"]["realmName"] == "master"
        await asyncio.to_thread(kk.delete_user, base, admin_token(base), user_id)
    finally:
        admin_call(base, admin_token(base), "DELETE", f"clients/{client['id']}", realm="master")
