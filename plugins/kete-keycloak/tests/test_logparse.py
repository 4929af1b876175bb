"""Reading Keycloak's event log records (lines as Keycloak 26.7 writes them; see the tests with a real server)."""

from __future__ import annotations

import datetime as dt
import unicodedata

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kete_keycloak.logparse import (
    ADMIN_FIELDS,
    LOGGER,
    USER_FIELDS,
    BadRecord,
    LineParser,
    NotAnEventRecord,
    parse_pairs,
    to_event,
)

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
        ('2026-11-23 22:31:02,561 INFO  [org.keycloak.events] (t) type="LOGIN, realmId="x', "unescaped"),
        ('2026-11-23 22:31:02,561 INFO  [org.keycloak.events] (t) type="LOGIN", realmId=x', "unescaped"),
        ('2026-11-23 22:31:02,561 INFO  [org.keycloak.events] (t) type="LOGIN",realmId="x"', "unescaped"),
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
    assert parse_pairs("type='LOGIN', username='o\\'brien'") == [("type", "LOGIN"), ("username", "o'brien")]
    # quotes = none: values run to the next ", key=" (and cannot hold one).
    assert parse_pairs("type=LOGIN, scope=openid profile, x=a, b, error=null") == [
        ("type", "LOGIN"),
        ("scope", "openid profile"),
        ("x", "a, b"),
        ("error", None),
    ]


@pytest.mark.parametrize(
    "username",
    [
        'o\'brien "the quote", x=1',
        'comma, error="fake", type="LOGOUT"',
        'x", error="fake',
        "ends in a backslash\\",
        '\\", type="LOGOUT", y="\\',
        'a\\", b="c',
        "null-ish, null",
    ],
)
def test_values_typed_by_strangers_do_not_forge_fields(username):
    """Issue 16 item 9: a username that holds ``\\", `` parses back whole, with no invented fields."""
    line = keycloak_line({"type": "LOGIN_ERROR", "realmId": "r1", "realmName": "kete-test", "clientId": "app",
                          "userId": None, "ipAddress": "127.0.0.1", "error": "user_not_found"},
                         {"auth_method": "openid-connect", "username": username})  # fmt: skip
    event = utc_parser().parse(line.encode())
    assert event["details"] == {"auth_method": "openid-connect", "username": username}
    assert (event["type"], event["error"], "userId" in event) == ("LOGIN_ERROR", "user_not_found", False)


# --- What Keycloak writes, implemented from its source (Keycloak 26.7.3) ------------------------------------------
# JBossLoggingEventListenerProvider.sanitize(sb, value): quote, value through
# StringUtil.sanitizeSpacesAndQuotes(value, quote), quote; detail keys through sanitizeSpacesAndQuotes(key, null).


def java_is_whitespace(char: str) -> bool:
    """``java.lang.Character.isWhitespace(char)``."""
    if char in "\t\n\u000b\f\r\u001c\u001d\u001e\u001f":
        return True
    return unicodedata.category(char) in ("Zs", "Zl", "Zp") and char not in "\u00a0\u2007\u202f"


def sanitize_spaces_and_quotes(value: str, quote: str | None) -> str:
    """``org.keycloak.utils.StringUtil.sanitizeSpacesAndQuotes``."""
    out = []
    for char in value:
        if (java_is_whitespace(char) and char != " ") or char == "\u00a0":
            out.append(" ")
        elif quote is not None and char == quote:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def written(value: str | None, quote: str) -> str:
    """``JBossLoggingEventListenerProvider.sanitize``: a null value is appended as ``null``."""
    return quote + ("null" if value is None else sanitize_spaces_and_quotes(value, quote)) + quote


def keycloak_message(fields: dict[str, str | None], details: dict[str, str], quote: str = '"') -> str:
    """``logEvent`` (fields starting with ``type``) or ``logAdminEvent`` (``operationType``)."""
    pairs = [f"{key}={written(value, quote)}" for key, value in fields.items()]
    pairs += [f"{sanitize_spaces_and_quotes(key, None)}={written(value, quote)}" for key, value in details.items()]
    return ", ".join(pairs)


def keycloak_line(fields: dict[str, str | None], details: dict[str, str], quote: str = '"') -> str:
    """The record in Keycloak's default plain file format."""
    return f"2026-11-23 22:34:42,975 WARN  [org.keycloak.events] (executor-thread-1) {keycloak_message(fields, details, quote)}"


def as_logged(value: str) -> str:
    """What a reader of the log can know of *value*: Keycloak turned other whitespace into spaces."""
    return sanitize_spaces_and_quotes(value, None)


# Anything, except the one value Keycloak writes like a null; often built from the pieces that
# make the log's syntax, which arbitrary text alone rarely holds.
_PIECES = ['"', "'", "\\", ", ", "=", '="', '\\"', ", error=", ", type=", 'x="', "null", "\n", "\t", "\u00a0", " "]
values = (
    st.lists(st.sampled_from(_PIECES) | st.text(max_size=4), max_size=12).map("".join) | st.text(max_size=40)
).filter(lambda value: value != "null")
detail_keys = st.from_regex(r"[a-z][a-zA-Z_]{0,15}", fullmatch=True).filter(
    lambda key: key not in USER_FIELDS + ADMIN_FIELDS + ("representation",)
)
details = st.dictionaries(detail_keys, values, max_size=5)
quotes = st.sampled_from(['"', "'"])


@settings(max_examples=300, deadline=None)
@given(
    event_type=st.sampled_from(["LOGIN", "LOGIN_ERROR", "REGISTER"]),
    realm_name=values, client_id=values, user_id=values, session_id=st.none() | values, ip_address=values,
    error=st.none() | values, details=details, quote=quotes, json_format=st.booleans(),
)  # fmt: skip
def test_every_user_event_keycloak_writes_reads_back(
    event_type, realm_name, client_id, user_id, session_id, ip_address, error, details, quote, json_format
):
    fields = {"type": event_type, "realmId": "r1", "realmName": realm_name, "clientId": client_id, "userId": user_id}
    if session_id is not None:
        fields["sessionId"] = session_id
    fields["ipAddress"] = ip_address
    if error is not None:
        fields["error"] = error
    message = keycloak_message(fields, details, quote)
    if json_format:
        line = orjson.dumps({"timestamp": "2026-11-23T22:35:08.773Z", "loggerName": LOGGER, "level": "WARN",
                             "message": message})  # fmt: skip
    else:
        line = keycloak_line(fields, details, quote).encode()
    event = utc_parser().parse(line)
    expected = {"time": event["time"], **{key: as_logged(value) for key, value in fields.items()}}
    if details:
        expected["details"] = {as_logged(key): as_logged(value) for key, value in details.items()}
    assert event == expected


@settings(max_examples=300, deadline=None)
@given(
    operation=st.sampled_from(["CREATE", "UPDATE", "DELETE", "ACTION"]), realm_name=values, client_id=values,
    user_id=values, ip_address=values, resource_path=values, error=st.none() | values, details=details,
    representation=st.none() | st.recursive(st.none() | st.booleans() | values, lambda inner: st.lists(inner) | st.dictionaries(values, inner), max_leaves=6),
    quote=quotes,
)  # fmt: skip
def test_every_admin_event_keycloak_writes_reads_back(
    operation, realm_name, client_id, user_id, ip_address, resource_path, error, details, representation, quote
):
    fields: dict[str, str | None] = {"operationType": operation, "realmId": "m1", "realmName": realm_name,
                                     "clientId": client_id, "userId": user_id, "ipAddress": ip_address,
                                     "resourceType": "USER", "resourcePath": resource_path}  # fmt: skip
    if error is not None:
        fields["error"] = error
    tail = dict(details)
    if representation is not None:
        tail["representation"] = orjson.dumps(representation).decode()
    event = utc_parser().parse(keycloak_line(fields, tail, quote).encode())
    auth = {key: as_logged(fields[key]) for key in ("realmId", "realmName", "clientId", "userId", "ipAddress")}
    expected = {"time": event["time"], "operationType": operation, "resourceType": "USER",
                "resourcePath": as_logged(resource_path), "realmId": "m1", "realmName": auth["realmName"],
                "authDetails": auth}  # fmt: skip
    if error is not None:
        expected["error"] = as_logged(error)
    if representation is not None:
        expected["representation"] = as_logged(tail["representation"])
        assert orjson.loads(event["representation"]) == orjson.loads(expected["representation"])
    if details:
        expected["details"] = {key: as_logged(value) for key, value in details.items()}
    assert event == expected


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
                      ("resourcePath", "clients/1"), ("credential_type", "otp"), ("representation", "{}")], 5)  # fmt: skip
    assert event == {
        "time": 5, "operationType": "UPDATE", "resourceType": "CLIENT", "resourcePath": "clients/1",
        "representation": "{}", "realmId": "r", "authDetails": {"realmId": "r"}, "details": {"credential_type": "otp"},
    }  # fmt: skip
