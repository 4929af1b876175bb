"""The keycloak-log source on the log files of real Keycloak servers (plain and JSON), and on copies of
their lines in a file that the test rotates and truncates."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from kete_core.testing.services import started
from tests.services.keycloak_server import (
    KEYCLOAK_VERSION,
    KeycloakServer,
    admin_token,
    client_token,
    failed_login,
    get_events,
    wait_for_log,
)

pytestmark = pytest.mark.keycloak

# Read independently of the plugin's parser: what the record says it is, and the username if any.
_KIND = re.compile(r'(?:^|\(\S*\) )(?:type="(?P<type>[A-Z_]+)"|operationType="(?P<op>[A-Z]+)")')
_RESOURCE = re.compile(r'resourceType="(?P<resource>[A-Z_]+)"')
_TOKEN_ID = re.compile(r'token_id="(?P<id>[^"]*)"')
_USERNAME = re.compile(r'username="(?P<username>(?:[^"\\]|\\.)*)"')


def source(path: Path, **settings: Any) -> str:
    values = {"kind": "keycloak-log", "path": str(path), "poll-interval": "20ms"} | settings
    return "\n".join(f"{key} = {json.dumps(value)}" for key, value in values.items())


def records(path: Path, start: int = 0) -> list[str]:
    """The messages of the events logger in *path* from byte *start* on (plain or JSON lines)."""
    found = []
    with path.open("rb") as stream:
        stream.seek(start)
        for raw in stream.read().splitlines():
            line = raw.decode()
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("loggerName") == "org.keycloak.events":
                    found.append(record["message"])
            elif "[org.keycloak.events]" in line:
                found.append(line)
    return found


def summary(message: str) -> tuple[str, str | None]:
    """``("LOGIN", "alice")`` or ``("USER_CREATE", None)`` for a record's message."""
    kind = _KIND.search(message)
    assert kind, message
    name = kind["type"] or f"{_RESOURCE.search(message)['resource']}_{kind['op']}"
    username = _USERNAME.search(message)
    return name, username["username"].replace('\\"', '"') if username else None


def delivered(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [
        (
            e["type"] if "type" in e else f"{e['resourceType']}_{e['operationType']}",
            (e.get("details") or {}).get("username"),
        )
        for e in events
    ]


def by_kind(items: list[tuple[str, str | None]], messages: list[str]) -> dict[bool, list[tuple[str, str | None]]]:
    """Split record summaries into user (True) and admin (False) events, keeping their order."""
    split: dict[bool, list[tuple[str, str | None]]] = {True: [], False: []}
    for item, message in zip(items, messages, strict=True):
        split["operationType=" not in message.split(", ")[0]].append(item)
    return split


def test_follows_the_plain_log_across_a_restart(keycloak, tmp_path, spawn_kete, kk):
    out, log = tmp_path / "out", keycloak.log_file
    config = kk.write_config(tmp_path, source(log))  # start-at = "end"
    kete = spawn_kete(config)

    # Failed logins of a probe user until one arrives: from its record on, kete reads everything.
    probe = kk.unique("probe")

    def probed() -> bool:
        failed_login(keycloak.base_url, probe)
        return any((e.get("details") or {}).get("username") == probe for e in kk.sink_events(out))

    kk.wait_until(probed, what="kete to follow the log")
    script = kk.Script()
    kk.run_actions(keycloak, "log-1", script)
    wait_for_log(log, f'resourcePath="users/{script.user_ids[-1]}"', 'operationType="DELETE"')
    kk.wait_until(lambda: any(e.get("resourcePath") == f"users/{script.user_ids[-1]}" and e["operationType"] == "DELETE"
                              for e in kk.sink_events(out) if "operationType" in e), what="the first round")  # fmt: skip
    assert kete.stop() == 0, kete.log
    kk.run_actions(keycloak, "log-2", script)  # while kete is down
    kete = spawn_kete(config)
    kk.run_actions(keycloak, "log-3", script)
    wait_for_log(log, f'resourcePath="users/{script.user_ids[-1]}"', 'operationType="DELETE"')
    kk.wait_until(lambda: any(e.get("resourcePath") == f"users/{script.user_ids[-1]}" and e["operationType"] == "DELETE"
                              for e in kk.sink_events(out) if "operationType" in e), what="every record")  # fmt: skip
    assert kete.stop() == 0, kete.log

    users, admins = kk.read_jsonl(out / "event.jsonl"), kk.read_jsonl(out / "admin-event.jsonl")
    # kete started at the end of the file: it has the last probes, and everything logged after them.
    probes = [i for i, m in enumerate(records(log)) if f'username="{probe}"' in m]
    caught = len([e for e in users if (e.get("details") or {}).get("username") == probe])
    messages = records(log)[probes[-caught] :]
    truth = by_kind([summary(m) for m in messages], messages)
    # Exactly those records, each once, in order: nothing lost or repeated across the restart.
    assert delivered(users) == truth[True]
    assert delivered(admins) == truth[False]

    # The log has every realm: the bootstrap admin's logins are in master.
    for event in users:
        admin = (event.get("details") or {}).get("username") == keycloak.admin_username
        assert event["realmName"] == ("master" if admin else keycloak.realm), event
    token = admin_token(keycloak.base_url)
    for username in script.usernames:
        (login,) = [e for e in users if e["type"] == "LOGIN" and e["details"].get("username") == username]
        assert login["clientId"] == keycloak.login_client_id and login["sessionId"] == script.sessions[username]
        # The plain log's time (local, no zone) is the REST API's event time, to the log's delay.
        (stored,) = [e for e in get_events(keycloak.base_url, token, type=["LOGIN"], user=login["userId"])
                     if e.get("sessionId") == login["sessionId"]]  # fmt: skip
        assert 0 <= login["time"] - stored["time"] < 2000
    errors = [e for e in users if e["type"] == "LOGIN_ERROR" and e["details"]["username"] == "bob"]
    assert len(errors) == 3 and all(e["error"] == "invalid_user_credentials" for e in errors)
    assert len([e for e in users if e["type"] == "REFRESH_TOKEN"]) == 3
    for user_id in script.user_ids:
        life = [e for e in admins if e["resourcePath"].startswith(f"users/{user_id}")]
        assert [(e["operationType"], e["resourceType"]) for e in life] == [
            ("CREATE", "USER"), ("UPDATE", "USER"), ("CREATE", "REALM_ROLE_MAPPING"), ("UPDATE", "USER"),
            ("DELETE", "USER"),
        ]  # fmt: skip
        # The log names the acting admin's realm: the test realm's service account, or master's admin.
        assert [e["realmName"] for e in life] == [keycloak.realm] * 3 + ["master", keycloak.realm]
        assert [e["authDetails"]["realmName"] for e in life] == [e["realmName"] for e in life]
        assert all(e["authDetails"]["ipAddress"] == "127.0.0.1" for e in life)


async def test_follows_the_json_log_from_the_beginning_across_a_restart(keycloak_json_log, tmp_path, kk):
    server, out = keycloak_json_log, tmp_path / "out"
    config = kk.write_config(tmp_path, source(server.log_file, **{"start-at": "beginning", "format": "json"}))
    kete = kk.KeteInProcess(config)
    script = kk.Script()
    await asyncio.to_thread(kk.run_actions, server, "json-1", script)
    await kk.until(lambda: len(kk.sink_events(out)) >= len(records(server.log_file)), what="the first round")
    await kete.stop()
    await asyncio.to_thread(kk.run_actions, server, "json-2", script)
    kete = kk.KeteInProcess(config)
    await asyncio.to_thread(wait_for_log, server.log_file, f'resourcePath=\\"users/{script.user_ids[-1]}\\"',
                            'operationType=\\"DELETE\\"')  # fmt: skip
    await kk.until(lambda: len(kk.sink_events(out)) >= len(records(server.log_file)), what="every record")
    await kete.stop()
    messages = records(server.log_file)
    truth = by_kind([summary(m) for m in messages], messages)
    users, admins = kk.read_jsonl(out / "event.jsonl"), kk.read_jsonl(out / "admin-event.jsonl")
    assert delivered(users) == truth[True] and delivered(admins) == truth[False]
    login = next(e for e in users if e["type"] == "LOGIN" and e["details"]["username"] == script.usernames[0])
    assert login["sessionId"] == script.sessions[script.usernames[0]] and login["realmName"] == server.realm
    (stored,) = [e for e in get_events(server.base_url, admin_token(server.base_url), type=["LOGIN"],
                                       user=login["userId"]) if e.get("sessionId") == login["sessionId"]]  # fmt: skip
    assert 0 <= login["time"] - stored["time"] < 2000
    assert kete.pipeline.stats.rejected == {}


@pytest.fixture(params=["plain", "json"])
def corpus(request, keycloak, keycloak_json_log, kk) -> tuple[list[bytes], list[bytes], list[str]]:
    """Real lines of a Keycloak log: event records (failed logins of unique users, in order), and
    other lines (server start-up messages)."""
    server = keycloak if request.param == "plain" else keycloak_json_log
    names = [kk.unique(f"rot{number:02d}") for number in range(16)]
    for name in names:
        failed_login(server.base_url, name)
    wait_for_log(server.log_file, names[-1])
    lines = server.log_file.read_bytes().splitlines(keepends=True)
    events = [next(line for line in lines if name.encode() in line) for name in names]
    others = [line for line in lines[:40] if b"org.keycloak.events" not in line][:6]
    return events, others, names


async def test_rotation_truncation_and_restart(corpus, tmp_path, kk, caplog):
    events, others, names = corpus
    log, out = tmp_path / "logs" / "keycloak.log", tmp_path / "out"
    log.parent.mkdir()
    # start-at = "end", but the file does not exist yet: when it appears, all of it is new.
    config = kk.write_config(tmp_path, source(log, **{"batch-size": 3}), by_kind=False)

    def arrived() -> list[str]:
        return [e["details"]["username"] for e in kk.sink_events(out)]

    def append(path: Path, *chunks: list[bytes]) -> None:
        with path.open("ab") as stream:
            for chunk in chunks:
                stream.write(b"".join(chunk))

    kete = kk.KeteInProcess(config)
    assert "does not exist" in await kk.until(lambda: kete.status, what="waiting for the file")
    append(log, others[:3], events[0:2])
    await kk.until(lambda: arrived() == names[0:2], what="the first lines")
    assert kete.status is None
    append(log, events[2:4], others[3:])
    await kk.until(lambda: arrived() == names[0:4], what="appended lines")

    # Rotation while running: the last lines go to the old file, which is then renamed; a new file follows.
    append(log, events[4:6])
    log.rename(log.with_name("keycloak.log.1"))
    broken = b'2026-11-23 22:31:02,561 INFO  [org.keycloak.events] (executor-thread-1) type="LOGIN, realmId="x\n'
    append(log, events[6:7], [broken], others[:2], events[7:8])
    await kk.until(lambda: arrived() == names[0:8], what="the lines around a rotation")
    assert kete.pipeline.stats.rejected == {"keycloak": 1}

    # Truncation in place (logrotate's copytruncate); the writer appends from the start again.
    with log.open("r+b") as stream:
        stream.truncate(0)
    await asyncio.sleep(0.3)
    append(log, events[8:10])
    await kk.until(lambda: arrived() == names[0:10], what="the lines after a truncation")
    await kete.stop()

    # While kete is down: more lines, then a rotation (.1 -> .2, log -> .1, a new log).
    append(log, events[10:12])
    log.with_name("keycloak.log.1").rename(log.with_name("keycloak.log.2"))
    log.rename(log.with_name("keycloak.log.1"))
    append(log, others[:1], events[12:14])
    caplog.set_level("INFO", "kete.keycloak")
    kete = kk.KeteInProcess(config)
    await kk.until(lambda: arrived() == names[0:14], what="the rest of the rotated file, then the new one")
    append(log, events[14:16])
    await kk.until(lambda: arrived() == names, what="lines after the restart")
    await kete.stop()
    assert arrived() == names  # each once, in order
    assert "was rotated: reading the rest of" in caplog.text
    assert kete.pipeline.stats.rejected == {}
    assert all(e["type"] == "LOGIN_ERROR" and e["error"] == "user_not_found" for e in kk.sink_events(out))


@pytest.fixture(scope="module")
def rotating_keycloak(tmp_path_factory):
    """A Keycloak of its own that rotates its log file every 16 kB (rename to .1, .2, …, a new file)."""
    server = KeycloakServer(
        KEYCLOAK_VERSION,
        workdir=tmp_path_factory.mktemp("rotating-keycloak"),
        extra_args=["--log-file-rotation-max-file-size=16k", "--log-file-rotation-max-backup-index=100"],
    )
    yield from started(server)


@pytest.mark.slow
async def test_keycloak_s_own_rotation(rotating_keycloak, tmp_path, kk):
    """Keycloak rotates its log by size (and at boot); kete keeps up while running and catches up on
    the files rotated while it was down."""
    server, out = rotating_keycloak, tmp_path / "out"
    config = kk.write_config(tmp_path, source(server.log_file, **{"start-at": "beginning"}))

    def tokens(count: int) -> None:
        for _ in range(count):
            client_token(server.base_url)  # a CLIENT_LOGIN of ~700 bytes in the log

    def truth() -> list[str | None]:
        files = sorted(server.log_file.parent.glob("keycloak.log.*"), key=lambda p: -int(p.suffix[1:]))
        return [_TOKEN_ID.search(m)["id"] for path in [*files, server.log_file] for m in records(path)]

    def arrived() -> list[str | None]:
        return [(e.get("details") or {}).get("token_id") for e in kk.sink_events(out)]

    kete = kk.KeteInProcess(config)
    await asyncio.to_thread(tokens, 50)
    await kk.until(lambda: len(arrived()) >= len(truth()), what="the events of the first files")
    await kete.stop()
    await asyncio.to_thread(tokens, 50)  # rotations while kete is down
    kete = kk.KeteInProcess(config)
    await asyncio.to_thread(tokens, 30)
    await kk.until(lambda: len(arrived()) >= len(truth()), what="every event")
    await kete.stop()
    assert len(list(server.log_file.parent.glob("keycloak.log.*"))) >= 4
    assert arrived() == truth() and len(set(arrived())) == 130


# Usernames that look like the log's own syntax (issue 16 item 9): typed by anyone on a login page.
FORGING_NAMES = (
    'o\'brien "the quote", x=1',
    'comma, error="fake", type="LOGOUT"',
    'x", error="fake',
    "trailing backslash\\",
    'a\\", b="c',
    '\\", type="LOGOUT", y="\\',
)


async def test_usernames_that_look_like_the_log_s_syntax_read_back_whole(keycloak, tmp_path, kk):
    out = tmp_path / "out"
    config = kk.write_config(tmp_path, source(keycloak.log_file, **{"start-at": "beginning"}))
    tag = kk.unique("forge")
    names = [f"{tag} {name}" for name in FORGING_NAMES]
    for name in names:
        await asyncio.to_thread(failed_login, keycloak.base_url, name)
    kete = kk.KeteInProcess(config)

    def followed() -> list[dict[str, Any]]:
        return [e for e in kk.sink_events(out) if tag in json.dumps(e)]

    await kk.until(lambda: len(followed()) >= len(names), what="the failed logins")
    await kete.stop()
    assert kete.pipeline.stats.rejected == {}
    stored = {
        e["details"]["username"]: e
        for e in get_events(keycloak.base_url, admin_token(keycloak.base_url), type=["LOGIN_ERROR"], max=200)
        if tag in (e.get("details") or {}).get("username", "")
    }
    events = followed()
    # One event per login, each with the username Keycloak had, and nothing else that was typed.
    assert [e["details"]["username"] for e in events] == names and sorted(stored) == sorted(names)
    for event in events:
        truth = stored[event["details"]["username"]]
        assert (event["type"], event["error"], event["clientId"], event["ipAddress"]) == (
            truth["type"], truth["error"], truth["clientId"], truth["ipAddress"],
        )  # fmt: skip
        auth_session = {"authSessionParentId", "authSessionTabId"}
        assert {k: v for k, v in event["details"].items() if k not in auth_session} == truth["details"]


async def test_admin_events_end_as_the_original_s(keycloak, tmp_path, kk):
    """Issue 16 item 17: an admin event from the log has the original's KETE JSON keys, in order."""
    base, out = keycloak.base_url, tmp_path / "out"
    user_id = await asyncio.to_thread(kk.create_user, base, client_token(base), kk.unique("tail"))
    kete = kk.KeteInProcess(kk.write_config(tmp_path, source(keycloak.log_file, **{"start-at": "beginning"})))

    needle = f'"resourcePath":"users/{user_id}"'
    written = await kk.until(lambda: kk.written_line(out / "admin-event.jsonl", needle), what="the USER CREATE record")
    await kete.stop()
    assert written.startswith(b'{"id":null,"time":')
    assert written.endswith(
        f'"error":null,"details":null,"resourceTypeAsString":"USER","resourceId":"{user_id}"}}'.encode()
    )
