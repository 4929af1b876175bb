"""The http source, driven by a real aiohttp client over 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import hmac
import logging
import socket
import time
import zlib

import aiohttp
import orjson
import pytest
from kete_http.settings import HttpSourceConfig
from kete_http.source import HttpSource

from kete_core.errors import ConfigErrors, SourceError

LOGIN = {"id": "u1", "time": 1732000000123, "type": "LOGIN", "realmId": "r-id", "realmName": "acme", "userId": "alice"}
ADMIN = {
    "id": "a1", "time": 1732000000456, "realmId": "r-id", "authDetails": {"realmId": "master", "userId": "root"},
    "resourceType": "USER", "operationType": "CREATE", "resourcePath": "users/1", "representation": "{}",
}  # fmt: skip


async def test_one_event_or_an_array_is_accepted_whole(webhook):
    hook = await webhook()
    assert hook.intake.ready == (True, None)  # reported to kete's /ready once listening
    assert (await hook.post(LOGIN))[:2] == (202, {"accepted": 1})
    assert (await hook.post([LOGIN, ADMIN, LOGIN]))[:2] == (202, {"accepted": 3})
    assert [len(batch) for batch in hook.intake.batches] == [1, 3]
    assert [event.event_type for event in hook.intake.events] == ["LOGIN", "LOGIN", "USER_CREATE", "LOGIN"]
    assert hook.intake.events[0].data == LOGIN
    assert (await hook.post([]))[:2] == (202, {"accepted": 0})


async def test_answers_only_after_the_events_are_submitted(webhook):
    hook = await webhook()
    hook.intake.gate = asyncio.Event()
    answer = asyncio.create_task(hook.post(LOGIN))
    await asyncio.sleep(0.2)
    assert not answer.done() and not hook.intake.batches
    hook.intake.gate.set()
    assert (await answer)[0] == 202
    assert len(hook.intake.batches) == 1


async def test_webhook_shapes_are_normalised(webhook):
    hook = await webhook(**{"realm-names": {"r-id": "acme"}})
    p2_access = {
        "uid": "send-1",
        "id": "p1",
        "time": 1,
        "type": "access.LOGIN_ERROR",
        "realmId": "r-id",
        "error": "bad",
        "authDetails": {
            "realmId": "acme",
            "clientId": "app",
            "userId": "bob",
            "ipAddress": "10.0.0.1",
            "sessionId": "s1",
            "username": "bob",
        },
        "details": {"username": "bob"},
    }
    p2_admin = {
        "uid": "send-2",
        "id": "p2",
        "time": 2,
        "type": "admin.REALM_ROLE_MAPPING-CREATE",
        "realmId": "r-id",
        "realmName": "acme",
        "resourceType": "REALM_ROLE_MAPPING",
        "operationType": "CREATE",
        "resourcePath": "users/1/role-mappings/realm",
        "authDetails": {"realmId": "master", "userId": "root"},
    }
    vymalo_user = {"type": "LOGOUT", "realmId": "r-id", "id": "v1", "time": 3, "userId": "carol", "sessionId": "s2"}
    vymalo_admin = {
        "type": "GROUP-DELETE",
        "realmId": "r-id",
        "id": "v2",
        "time": 4,
        "clientId": "admin-cli",
        "userId": "root",
        "ipAddress": "10.0.0.2",
        "resourcePath": "groups/9",
    }
    kete = {**LOGIN, "clientId": None, "sessionId": None, "ipAddress": None, "error": None, "details": None}
    status, body, _ = await hook.post([p2_access, p2_admin, vymalo_user, vymalo_admin, ADMIN, kete])
    assert (status, body) == (202, {"accepted": 6})
    access, admin, logout, group, raw_admin, kete_event = hook.intake.events
    assert (access.kind, access.event_type, access.realm, access.result) == ("EVENT", "LOGIN_ERROR", "acme", "ERROR")
    kete_shape = access.to_kete()
    assert (kete_shape["clientId"], kete_shape["userId"], kete_shape["sessionId"]) == ("app", "bob", "s1")
    assert kete_shape["ipAddress"] == "10.0.0.1" and kete_shape["uid"] == "send-1"
    assert (admin.kind, admin.event_type, admin.resource_type, admin.operation_type) == (
        "ADMIN_EVENT", "REALM_ROLE_MAPPING_CREATE", "REALM_ROLE_MAPPING", "CREATE",
    )  # fmt: skip
    assert admin.auth_realm_name == "master" and "type" not in admin.data
    assert (logout.event_type, logout.realm) == ("LOGOUT", "acme")  # realm name from realm-names
    assert (group.kind, group.event_type) == ("ADMIN_EVENT", "GROUP_DELETE")
    assert group.data["authDetails"] == {"clientId": "admin-cli", "userId": "root", "ipAddress": "10.0.0.2"}
    assert (raw_admin.event_type, raw_admin.realm) == ("USER_CREATE", "acme")
    assert kete_event.to_kete() == {**kete}
    # Admin events of every shape end as the original's do on Keycloak 26.x (issue 16 item 17).
    for event, resource_id in ((admin, "realm"), (group, "9"), (raw_admin, "1")):
        shaped = event.to_kete()
        assert list(shaped)[list(shaped).index("error") :][:4] == [
            "error", "details", "resourceTypeAsString", "resourceId",
        ]  # fmt: skip
        assert (shaped["details"], shaped["resourceId"]) == (None, resource_id)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"type": "admin.USER"}, "is not <RESOURCE_TYPE>-<OPERATION>"),
        ({"type": "access."}, "names no event type"),
        ({"time": 1}, "not a Keycloak event"),
        ({"type": "LOGIN", "time": "yesterday"}, "field 'time' must be epoch milliseconds"),
        ("LOGIN", "an event must be a JSON object"),
    ],
)
async def test_malformed_events_are_refused_with_the_reason(webhook, payload, reason):
    hook = await webhook()
    status, body, _ = await hook.post([LOGIN, payload])
    assert status == 400 and body["error"].startswith("event 1: ") and reason in body["error"]
    assert not hook.intake.batches  # nothing of the request was accepted
    (rejection,) = hook.intake.rejections
    assert rejection.source == "hook" and reason in rejection.reason and "127.0.0.1 POST /" in rejection.where


async def test_p2_application_events_are_answered_2xx_recorded_and_not_routed(webhook):
    """Issue 16 item 23: p2-inc retries anything but 2xx for 15 minutes, so its own events are
    accepted, kept out of routing and recorded for ``kete rejected`` with the reason."""
    hook = await webhook()
    app_event = {"uid": "u9", "time": 5, "type": "order-created", "realmId": None, "id": None,
                 "authDetails": {"realmId": "acme", "clientId": "shop", "userId": "u-1", "username": "svc"}}  # fmt: skip
    assert (await hook.post(app_event))[:2] == (202, {"accepted": 0, "not-routed": 1})
    ping = {"uid": "u10", "time": 6, "type": "system.PING"}
    assert (await hook.post([LOGIN, app_event, ping, ADMIN]))[:2] == (202, {"accepted": 2, "not-routed": 2})
    assert [event.event_type for event in hook.intake.events] == ["LOGIN", "USER_CREATE"]
    first, second, third = hook.intake.rejections
    assert "p2-inc application event ('order-created'" in first.reason and "not routed" in first.reason
    assert first.where == "127.0.0.1 POST /" and b'"order-created"' in first.raw
    assert second.where == "127.0.0.1 POST / event 1" and third.where == "127.0.0.1 POST / event 2"
    assert "p2-inc system event ('system.PING')" in third.reason
    # A request refused as a whole records nothing: the sender sends it again.
    hook.intake.busy = True
    assert (await hook.post([LOGIN, app_event]))[0] == 503
    assert len(hook.intake.rejections) == 3


async def test_malformed_json_is_refused_with_the_reason(webhook):
    hook = await webhook()
    status, body, _ = await hook.post(b'{"type": "LOGIN",', raw=True)
    assert status == 400 and body["error"].startswith("not JSON:")
    assert hook.intake.rejections[0].raw == b'{"type": "LOGIN",'


async def test_signed_requests_p2_style(webhook):
    hook = await webhook(signing={"secret": "shh"})
    body = orjson.dumps(LOGIN)
    signature = hmac.new(b"shh", body, hashlib.sha256).hexdigest()
    assert (await hook.post(body, raw=True, headers={"X-Keycloak-Signature": signature}))[0] == 202
    assert (await hook.post(body, raw=True, headers={"X-Keycloak-Signature": signature.upper()}))[0] == 202
    status, answer, _ = await hook.post(body, raw=True)
    assert (status, answer) == (401, {"error": "missing or wrong X-Keycloak-Signature signature"})
    assert (await hook.post(body, raw=True, headers={"X-Keycloak-Signature": "0" * 64}))[0] == 401
    tampered = body.replace(b"alice", b"mallory")
    assert (await hook.post(tampered, raw=True, headers={"X-Keycloak-Signature": signature}))[0] == 401
    assert len(hook.intake.batches) == 2 and not hook.intake.rejections


async def test_signature_covers_the_compressed_body(webhook):
    hook = await webhook(signing={"secret": "shh", "header": "X-Signature", "prefix": "sha256="})
    body = gzip.compress(orjson.dumps([LOGIN, ADMIN]))
    signature = "sha256=" + hmac.new(b"shh", body, hashlib.sha256).hexdigest()
    headers = {"X-Signature": signature, "Content-Encoding": "gzip"}
    assert (await hook.post(body, raw=True, headers=headers))[:2] == (202, {"accepted": 2})
    headers["X-Signature"] = signature[len("sha256=") :]
    assert (await hook.post(body, raw=True, headers=headers))[0] == 401


@pytest.mark.parametrize("settings", [{"bearer-token": "tok"}, {"basic-username": "kc", "basic-password": "pw"}])
async def test_bearer_and_basic_authentication(webhook, settings):
    hook = await webhook(**settings)
    credentials = "tok" if "bearer-token" in settings else base64.b64encode(b"kc:pw").decode()
    scheme = "Bearer" if "bearer-token" in settings else "Basic"  # Basic: what vymalo/keycloak-webhook sends
    good = {"Authorization": f"{scheme} {credentials}"}
    assert (await hook.post(LOGIN, headers=good))[0] == 202
    # The scheme is case-insensitive (RFC 9110), the credentials are not.
    for written in (scheme.lower(), scheme.upper()):
        assert (await hook.post(LOGIN, headers={"Authorization": f"{written} {credentials}"}))[0] == 202
    assert (await hook.post(LOGIN, headers={"Authorization": f"{scheme} {credentials.upper()}"}))[0] == 401
    status, _, headers = await hook.post(LOGIN, headers={"Authorization": "Bearer nope"})
    assert status == 401 and "WWW-Authenticate" in headers
    assert (await hook.post(LOGIN))[0] == 401
    assert len(hook.intake.batches) == 3


async def test_a_signed_timestamp_limits_replays_to_the_tolerance(webhook):
    hook = await webhook(signing={"secret": "shh", "timestamp-header": "X-Kete-Timestamp", "tolerance": "60s"})
    body = orjson.dumps(LOGIN)

    def signed(stamp: int) -> dict[str, str]:
        digest = hmac.new(b"shh", f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return {"X-Kete-Timestamp": str(stamp), "X-Keycloak-Signature": digest}

    now = int(time.time())
    assert (await hook.post(body, raw=True, headers=signed(now)))[0] == 202
    assert (await hook.post(body, raw=True, headers=signed(now - 30)))[0] == 202  # inside the window
    status, answer, _ = await hook.post(body, raw=True, headers=signed(now - 600))
    assert status == 401 and "X-Kete-Timestamp timestamp is more than 60 s from this clock" in answer["error"]
    later = signed(now + 30)
    later["X-Kete-Timestamp"] = str(now)  # the timestamp is signed: changing it breaks the signature
    assert (await hook.post(body, raw=True, headers=later))[0] == 401
    unstamped = {"X-Keycloak-Signature": hmac.new(b"shh", body, hashlib.sha256).hexdigest()}
    status, answer, _ = await hook.post(body, raw=True, headers=unstamped)
    assert status == 401 and "missing or malformed X-Kete-Timestamp" in answer["error"]
    assert len(hook.intake.batches) == 2


async def _raw_request(hook, data: bytes, *, wait: float = 10.0) -> bytes:
    """Send *data* on a new connection; read the answer's head, or until the server closes the
    connection without one (b"")."""
    reader, writer = await asyncio.open_connection("127.0.0.1", hook.source.port)
    try:
        writer.write(data)
        await writer.drain()
        try:
            return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), wait)
        except asyncio.IncompleteReadError as exc:
            return exc.partial
    finally:
        writer.close()


async def test_silent_slow_and_stalled_clients_are_cut_off(webhook):
    """Issue 16 item 7: no connection is held forever, however a client behaves."""
    hook = await webhook(**{"idle-timeout": "300ms", "body-timeout": "300ms"})
    assert await _raw_request(hook, b"") == b""  # connected, sent nothing: closed
    assert await _raw_request(hook, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Ty") == b""  # headers never end
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    answer = await _raw_request(hook, head + b'{"type":')  # the body never ends
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert not hook.intake.batches


async def test_clients_that_hang_up_or_send_huge_headers_log_a_line_not_a_traceback(webhook, caplog):
    caplog.set_level("DEBUG", "kete.http")
    hook = await webhook()
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    for _ in range(3):
        _, writer = await asyncio.open_connection("127.0.0.1", hook.source.port)
        writer.write(head + b'{"type":')
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.close()
    huge = b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    answers = [await _raw_request(hook, huge) for _ in range(5)]
    assert all(answer.startswith(b"HTTP/1.0 400 ") for answer in answers)
    await asyncio.sleep(0.2)
    assert (await hook.post(LOGIN))[0] == 202  # and the source serves on
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text
    assert caplog.text.count("hung up before its request was read") == 3  # debug
    malformed = [r for r in caplog.records if "a malformed request from 127.0.0.1" in r.getMessage()]
    assert len(malformed) == 1 and "Got more than 8190 bytes" in malformed[0].getMessage()  # once a minute


async def test_size_and_count_limits(webhook):
    hook = await webhook(**{"max-body-size": "2KiB", "max-events": 3})
    status, body, _ = await hook.post([LOGIN] * 40)
    assert status == 413 and "limit is 2048" in body["error"]

    async def chunks():
        for _ in range(40):
            yield orjson.dumps(LOGIN)

    status, body, _ = await hook.post(chunks(), raw=True)  # no Content-Length: the limit holds while reading
    assert status == 413

    status, body, _ = await hook.post([LOGIN] * 4)
    assert (status, body) == (413, {"error": "4 events in one request; the limit is 3"})
    bomb = gzip.compress(b"[" + b" " * 100_000 + b"]")
    status, body, _ = await hook.post(bomb, raw=True, headers={"Content-Encoding": "gzip"})
    assert status == 413 and "decompressed" in body["error"]
    assert not hook.intake.batches


async def test_content_type_and_encoding_checks(webhook):
    hook = await webhook()
    status, body, _ = await hook.post(LOGIN, headers={"Content-Type": "text/plain"})
    assert status == 415 and "'text/plain' is not accepted" in body["error"]
    assert (await hook.post(LOGIN, headers={"Content-Type": "application/json; charset=utf-8"}))[0] == 202
    assert (await hook.post(LOGIN, headers={"Content-Encoding": "br"}))[0] == 415
    for data in (zlib.compress(orjson.dumps(LOGIN)), zlib.compress(orjson.dumps(LOGIN))[2:-4]):  # zlib and raw
        assert (await hook.post(data, raw=True, headers={"Content-Encoding": "deflate"}))[0] == 202
    assert (await hook.post(b"junk", raw=True, headers={"Content-Encoding": "gzip"}))[0] == 400
    encoded = base64.b64encode(orjson.dumps(LOGIN))
    assert (await hook.post(encoded, raw=True, headers={"Content-Transfer-Encoding": "base64"}))[0] == 202
    hook2 = await webhook(**{"content-types": "application/json, application/cloudevents+json"})
    assert (await hook2.post(LOGIN, headers={"Content-Type": "application/cloudevents+json"}))[0] == 202


async def test_congestion_gets_503_with_retry_after_and_nothing_is_submitted(webhook):
    hook = await webhook(**{"retry-after": "2s"})
    hook.intake.busy = True
    status, body, headers = await hook.post(LOGIN)
    assert status == 503 and headers["Retry-After"] == "2" and "congested" in body["error"]
    assert not hook.intake.batches
    hook.intake.busy = False
    assert (await hook.post(LOGIN))[0] == 202


async def test_a_request_whose_client_gave_up_is_not_accepted_afterwards(webhook):
    hook = await webhook()
    hook.intake.gate = asyncio.Event()
    first = asyncio.create_task(hook.post({**LOGIN, "id": "first"}))
    await asyncio.sleep(0.2)  # the first submission holds the source's submit turn
    with pytest.raises(TimeoutError):
        await hook.post({**LOGIN, "id": "gave-up"}, timeout=aiohttp.ClientTimeout(total=0.3))
    hook.intake.gate.set()
    assert (await first)[0] == 202
    # Submissions take turns in arrival order: once the third is answered, the second was decided.
    assert (await hook.post({**LOGIN, "id": "third"}))[0] == 202
    assert [event.id for event in hook.intake.events] == ["first", "third"]


async def test_only_post_on_the_path(webhook):
    hook = await webhook(path="/keycloak")
    async with hook.client.get(hook.url) as response:
        assert response.status == 405
    async with hook.client.post(hook.url.replace("/keycloak", "/other"), json=LOGIN) as response:
        assert response.status == 404


async def test_stopping_finishes_requests_in_flight_then_closes(webhook):
    hook = await webhook()
    hook.intake.gate = asyncio.Event()
    answer = asyncio.create_task(hook.post(LOGIN))
    await asyncio.sleep(0.1)
    hook.intake.stopping.set()
    await asyncio.sleep(0.1)
    assert not hook.task.done()  # waits for the request in flight
    hook.intake.gate.set()
    assert (await answer)[0] == 202
    await asyncio.wait_for(hook.task, 5)
    with pytest.raises(aiohttp.ClientConnectionError):
        await hook.post(LOGIN)


async def test_a_stopping_source_answers_503_until_its_listener_closes(webhook):
    """Issue 16 item 24: p2-inc drops an event when the connection is refused and retries a 503:
    while kete drains, the port stays open and says when to come back."""
    hook = await webhook(**{"drain-time": "1s", "retry-after": "3s"})
    hook.intake.stopping.set()
    await asyncio.sleep(0.1)
    status, body, headers = await hook.post(LOGIN)
    assert (status, body["error"], headers["Retry-After"]) == (503, "kete is stopping", "3")
    assert headers["Connection"] == "close"  # the retry opens a new connection, maybe to a successor
    assert hook.intake.ready == (False, "stopping: answering 503 until the listener closes")
    assert not hook.task.done()
    await asyncio.wait_for(hook.task, 5)
    with pytest.raises(aiohttp.ClientConnectionError):
        await hook.post(LOGIN)
    assert not hook.intake.batches


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_successor_takes_the_port_over_without_a_refused_connection(webhook):
    """reuse-port: the successor listens on the same port before the old source stops and takes
    every new connection; the old one answers its kept-alive connection 503 (closing it) while it
    drains. A sender that retries on 503, as p2-inc does, sees no refused or reset connection."""
    port = _free_port()
    old = await webhook(port=port, **{"reuse-port": True, "drain-time": "1s"})
    async with (
        aiohttp.ClientSession() as kept_alive,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh,
    ):
        async with kept_alive.post(old.url, json={**LOGIN, "id": "before"}) as response:
            assert response.status == 202
        new = await webhook(port=port, **{"reuse-port": True})
        old.intake.stopping.set()
        async with kept_alive.post(old.url, json={**LOGIN, "id": "e0"}) as response:
            assert (response.status, response.headers["Retry-After"]) == (503, "1")
        for number in range(80):  # through the drain and after the old listener closed
            try:
                async with fresh.post(old.url, json={**LOGIN, "id": f"e{number}"}) as response:
                    assert response.status == 202
            except aiohttp.ClientConnectionError as exc:
                raise AssertionError(f"request {number}: the connection failed: {exc}") from exc
            await asyncio.sleep(0.02)
    await asyncio.wait_for(old.task, 5)
    assert [event.id for event in old.intake.events] == ["before"]
    assert [event.id for event in new.intake.events] == [f"e{number}" for number in range(80)]
    assert not new.task.done()


async def test_a_port_in_use_is_a_source_error(intake):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        source = HttpSource("hook", HttpSourceConfig.model_validate({"port": port}))
        with pytest.raises(SourceError, match=f"cannot listen on 127.0.0.1:{port}"):
            await source.run(intake)


def test_settings_errors():
    with pytest.raises(ConfigErrors) as caught:
        HttpSource(
            "hook", HttpSourceConfig.model_validate({"path": "x", "basic-username": "u", "tls": {"key-file": "k"}})
        )
    assert sorted(error.path for error in caught.value.errors) == [
        "sources.hook.basic-password", "sources.hook.path", "sources.hook.tls.cert-file",
    ]  # fmt: skip
