"""``kete keycloak enable-events`` against a real Keycloak, on a realm of the test's own."""

from __future__ import annotations

import pytest

from kete_core.testing import run_kete
from tests.services.keycloak_server import admin_call, admin_token, http_request

pytestmark = pytest.mark.keycloak


@pytest.fixture
def scratch_realm(keycloak, kk):
    """A new realm with events off and two listeners, deleted afterwards."""
    base, name = keycloak.base_url, kk.unique("events")
    http_request("POST", f"{base}/admin/realms", token=admin_token(base),
                 json_body={"realm": name, "enabled": True, "displayName": "Scratch", "eventsListeners": ["jboss-logging", "email"],
                            "attributes": {"kept": "yes"}})  # fmt: skip
    yield name
    admin_call(base, admin_token(base), "DELETE", "", realm=name)


def events_config(keycloak, realm: str) -> dict:
    return admin_call(keycloak.base_url, admin_token(keycloak.base_url), "GET", "events/config", realm=realm)


def test_enable_events_changes_what_was_asked_and_keeps_the_rest(keycloak, scratch_realm):
    admin = ["--server", keycloak.base_url, "--realm", scratch_realm, "--username", keycloak.admin_username]
    env = {"KETE_KEYCLOAK_PASSWORD": keycloak.admin_password}
    before = events_config(keycloak, scratch_realm)
    assert not before["eventsEnabled"] and not before["adminEventsEnabled"]

    dry = run_kete("keycloak", "enable-events", *admin, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "eventsEnabled" in dry.stdout and "dry run: nothing was changed" in dry.stdout
    assert events_config(keycloak, scratch_realm) == before

    result = run_kete(
        "keycloak", "enable-events", *admin, "--event-types", "LOGIN,LOGIN_ERROR", "--event-types", "LOGOUT",
        "--expiration", "7d", "--admin-expiration", "P30D", "--include-representation", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"realm '{scratch_realm}' at {keycloak.base_url}:"
    changes = {line.split()[0]: line.split(maxsplit=1)[1] for line in lines[1:] if " -> " in line}
    assert changes == {
        "adminEventsExpiration": "never (kept forever) -> 2592000 s (30d)",
        "eventsEnabled": "off -> on",
        "adminEventsEnabled": "off -> on",
        "adminEventsDetailsEnabled": "off -> on",
        "eventsExpiration": "never (kept forever) -> 604800 s (7d)",
        "enabledEventTypes": changes["enabledEventTypes"],
    }
    assert "+LOGIN" not in changes["enabledEventTypes"] and "-CODE_TO_TOKEN" in changes["enabledEventTypes"]
    assert "event listeners kept: jboss-logging, email" in result.stdout and lines[-1] == "saved"

    after = events_config(keycloak, scratch_realm)
    assert after["eventsEnabled"] and after["adminEventsEnabled"] and after["adminEventsDetailsEnabled"]
    assert after["eventsExpiration"] == 604800
    assert sorted(after["enabledEventTypes"]) == ["LOGIN", "LOGIN_ERROR", "LOGOUT"]
    assert sorted(after["eventsListeners"]) == ["email", "jboss-logging"]
    realm = admin_call(keycloak.base_url, admin_token(keycloak.base_url), "GET", "", realm=scratch_realm)
    assert realm["attributes"]["adminEventsExpiration"] == "2592000"
    assert realm["attributes"]["kept"] == "yes" and realm["displayName"] == "Scratch"

    again = run_kete("keycloak", "enable-events", *admin, "--admin-expiration", "30d", env=env)
    assert again.returncode == 0, again.stderr
    assert "nothing to change" in again.stdout and "saved" not in again.stdout

    more = run_kete("keycloak", "enable-events", *admin, "--add-event-types", "refresh_token", env=env)
    assert more.returncode == 0, more.stderr
    assert "enabledEventTypes  3 types -> 4 types (+REFRESH_TOKEN)" in more.stdout
    assert "REFRESH_TOKEN" in events_config(keycloak, scratch_realm)["enabledEventTypes"]


def test_enable_events_refusals_are_clear(keycloak):
    base = keycloak.base_url
    wrong = run_kete("keycloak", "enable-events", "--server", base, "--realm", keycloak.realm, "--username",
                     keycloak.admin_username, "--password", "wrong")  # fmt: skip
    assert wrong.returncode == 1
    assert "authentication of user 'kete-admin' failed: wrong username or password" in wrong.stderr

    # kete-poller may manage events but not the realm, which --admin-expiration needs: nothing changes.
    before = events_config(keycloak, keycloak.realm)
    poller = ["--server", base, "--realm", keycloak.realm, "--auth-realm", keycloak.realm,
              "--client-id", keycloak.poller_client_id, "--client-secret", keycloak.poller_client_secret]  # fmt: skip
    denied = run_kete("keycloak", "enable-events", *poller, "--admin-expiration", "1d", "--no-user-events")
    assert denied.returncode == 1
    assert "client 'kete-poller' is not allowed to do this" in denied.stderr and "HTTP 403" in denied.stderr
    assert "needs the realm-management roles manage-events and manage-realm" in denied.stderr
    assert events_config(keycloak, keycloak.realm) == before

    usage = run_kete("keycloak", "enable-events", "--server", base, "--realm", keycloak.realm)
    assert usage.returncode == 2 and "either --client-id/--client-secret or --username/--password" in usage.stderr
    # kete-poller has manage-events: it may turn on what the realm already has, so this changes nothing.
    same = run_kete("keycloak", "enable-events", *poller)
    assert same.returncode == 0, same.stderr
    assert "nothing to change" in same.stdout
