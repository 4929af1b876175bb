"""Reading Keycloak's event log records (lines as Keycloak 26.7 writes them; see the tests with a real server)."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from kete_keycloak.logparse import BadRecord, LineParser, NotAnEventRecord, parse_pairs, to_event

from kete_core import Event

LOGIN = (
    '2026-11-23 22:31:02,561 INFO  [org.keycloak.events] (executor-thread-1) type="LOGIN", '
    'realmId="057cb8c7-efb6-47ff-ba22-4f0d535caa08", realmName="kete-test", clientId="kete-login", '
    'userId="e4bc4ca8-92ef-4ac8-be4c-e0841ee63279", sessionId="i3auxRoXarDUhulS6oLkx6lI", ipAddress="127.0.0.1", '
    'auth_method="openid-connect", grant_type="password", scope="openid profile email", username="alice", '
    'authSessionParentId="i3auxRoXarDUhulS6oLkx6lI", authSessionTabId="kSmvM94fY68"'
)
UNKNOWN_USER = (
    '2026-11-23 22:34:42,975 WARN  [org.keycloak.events] (executor-thread-1) type="LOGIN_ERROR", '
    'realmId="057cb8c7", realmName="kete-test", clientId="kete-login", userId="null", ipAddress="127.0.0.1", '
    'error="user_not_found", auth_method="openid-connect", username="we\\"ird, user=x"'
)
ADMIN = (
    '2026-11-23 22:31:04,253 INFO  [org.keycloak.events] (executor-thread-1) operationType="CREATE", '
    'realmId="17b4ea83", realmName="master", clientId="8f8cfdb1", userId="59937477", ipAddress="127.0.0.1", '
    'resourceType="USER", resourcePath="users/bd100861"'
)
JSON_LOGIN = orjson.dumps(
    {
        "timestamp": "2026-11-23T22:35:08.773959945Z",
        "sequence": 2979,
        "loggerName": "org.keycloak.events",
        "level": "INFO",
        "message": 'type="LOGIN", realmId="r1", realmName="kete-test", clientId="kete-login", userId="u1", '
        'sessionId="s1", ipAddress="127.0.0.1", username="alice"',
        "threadName": "executor-thread-1",
    }
)


def utc_parser(**kwargs) -> LineParser:
    return LineParser(timezone="UTC", **kwargs)


def ms(text: str) -> int:
    return round(dt.datetime.fromisoformat(text).timestamp() * 1000)


def test_user_event_record():
    event = utc_parser().parse(LOGIN.encode())
    assert event == {
        "time": ms("2026-11-23T22:31:02.561+00:00"),
        "type": "LOGIN",
        "realmId": "057cb8c7-efb6-47ff-ba22-4f0d535caa08",
        "realmName": "kete-test",
        "clientId": "kete-login",
        "userId": "e4bc4ca8-92ef-4ac8-be4c-e0841ee63279",
        "sessionId": "i3auxRoXarDUhulS6oLkx6lI",
        "ipAddress": "127.0.0.1",
        "details": {
            "auth_method": "openid-connect",
            "grant_type": "password",
            "scope": "openid profile email",
            "username": "alice",
            "authSessionParentId": "i3auxRoXarDUhulS6oLkx6lI",
            "authSessionTabId": "kSmvM94fY68",
        },
    }
    routed = Event(event)
    assert (routed.kind, routed.event_type, routed.realm, routed.result) == ("EVENT", "LOGIN", "kete-test", "SUCCESS")


def test_null_values_are_absent_and_escaped_quotes_and_commas_stay_in_the_value():
    event = utc_parser().parse(UNKNOWN_USER.encode())
    assert "userId" not in event
    assert event["error"] == "user_not_found"
    assert event["details"]["username"] == 'we"ird, user=x'
    assert Event(event).result == "ERROR"


def test_admin_record_names_the_acting_admin():
    event = utc_parser().parse(ADMIN.encode())
    assert event["authDetails"] == {
        "realmId": "17b4ea83",
        "realmName": "master",
        "clientId": "8f8cfdb1",
        "userId": "59937477",
        "ipAddress": "127.0.0.1",
    }
    assert (event["operationType"], event["resourceType"], event["resourcePath"]) == (
        "CREATE",
        "USER",
        "users/bd100861",
    )
    assert (event["realmId"], event["realmName"]) == ("17b4ea83", "master")  # admin-event-realm = "acting"
    routed = Event(event)
    assert (routed.kind, routed.event_type, routed.realm, routed.auth_realm_name) == (
        "ADMIN_EVENT",
        "USER_CREATE",
        "master",
        "master",
    )
    bare = utc_parser(admin_realm="none").parse(ADMIN.encode())
    assert "realmId" not in bare and "realmName" not in bare and bare["authDetails"]["realmName"] == "master"
    assert Event(bare).realm == ""


def test_json_record():
    parser = LineParser("json")
    event = parser.parse(JSON_LOGIN)
    assert event["time"] == ms("2026-11-23T22:35:08.773+00:00")
    assert (event["type"], event["sessionId"], event["details"]) == ("LOGIN", "s1", {"username": "alice"})
    # auto tells the formats apart per line
    auto = utc_parser()
    assert auto.parse(JSON_LOGIN) == event
    assert auto.parse(LOGIN.encode())["type"] == "LOGIN"
    ecs = orjson.dumps({"@timestamp": "2026-11-23T22:35:08.773Z", "log.logger": "org.keycloak.events",
                        "log.level": "INFO", "message": 'type="LOGOUT", realmName="r"'})  # fmt: skip
    assert auto.parse(ecs)["type"] == "LOGOUT"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "2026-11-23 22:31:02,561 INFO  [org.keycloak.services] (main) KC-SERVICES0050: Initializing master realm",
        "\tat org.keycloak.events.Something(Something.java:12)",
        '{"timestamp":"2026-11-23T22:35:08Z","loggerName":"org.hibernate","level":"INFO","message":"x"}',
        '2026-11-23 22:31:02,561 INFO  [org.keycloak.events.jpa] (main) mentions type="LOGIN"',
    ],
)
def test_other_lines_are_not_event_records(line):
    with pytest.raises(NotAnEventRecord):
        utc_parser().parse(line.encode())


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('2026-11-23 22:31:02,561 INFO  [org.keycloak.events] (t) type="LOGIN, realmId="x', "expected ', '"),
        ('2026-11-23 22:31:02,561 INFO  [org.keycloak.events] (t) type="LOGIN', "no closing quote"),
        ("2026-11-23 22:31:02,561 INFO  [org.keycloak.events] (t) something else", "no type= or operationType="),
        ('2026-11-23 22:31:02,561 INFO  [org.keycloak.events] (t) operationType="CREATE", realmId="r"', "resourceType"),
        ('2026-13-23 22:31:02,561 INFO  [org.keycloak.events] (t) type="LOGIN"', "unreadable time"),
        ('{"loggerName":"org.keycloak.events","message":"type=\\"LOGIN\\""}', "timestamp"),
        ('{"loggerName":"org.keycloak.events", "message": ', "not JSON"),
    ],
)
def test_broken_event_records_are_errors(line, reason):
    with pytest.raises(BadRecord, match=reason):
        utc_parser().parse(line.encode())


def test_value_forms():
    # Keycloak does not escape backslashes: a backslash before the closing quote ends the value.
    assert parse_pairs('a="x\\", b="y"') == [("a", "x\\"), ("b", "y")]
    assert parse_pairs('a="x\\"y\\"", b=""') == [("a", 'x"y"'), ("b", "")]
    assert parse_pairs('a="", b="null"') == [("a", ""), ("b", None)]
    # quotes = none: values run to the next ", key="; old versions quoted values with spaces in '…'.
    assert parse_pairs("type=LOGIN, scope=openid profile, x='a, b', error=null") == [
        ("type", "LOGIN"),
        ("scope", "openid profile"),
        ("x", "a, b"),
        ("error", None),
    ]


def test_time_zones():
    berlin = LineParser(timezone="Europe/Berlin").parse(LOGIN.encode())
    assert berlin["time"] == ms("2026-11-23T22:31:02.561+01:00")
    custom = LineParser(
        pattern=r"^(?P<time>\S+) \[(?P<logger>[^\]]+)\] (?P<message>.*)$",
        time_format="%d/%m/%YT%H:%M:%S",
        timezone="UTC",
    )
    event = custom.parse(b'23/11/2026T22:31:02 [org.keycloak.events] type="LOGOUT", realmName="r"')
    assert event == {"time": ms("2026-11-23T22:31:02+00:00"), "type": "LOGOUT", "realmName": "r"}


def test_to_event_keeps_unknown_keys_as_details():
    event = to_event([("operationType", "UPDATE"), ("realmId", "r"), ("resourceType", "CLIENT"),
                      ("resourcePath", "clients/1"), ("representation", "{}"), ("credential_type", "otp")], 5)  # fmt: skip
    assert event == {
        "time": 5, "operationType": "UPDATE", "resourceType": "CLIENT", "resourcePath": "clients/1",
        "representation": "{}", "realmId": "r", "authDetails": {"realmId": "r"}, "details": {"credential_type": "otp"},
    }  # fmt: skip
