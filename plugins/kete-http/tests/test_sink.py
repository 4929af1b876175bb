"""The http sink against real aiohttp servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import hmac
import time
import zlib

import aiohttp
import orjson
import pytest
from aiohttp import web
from kete_http.settings import HttpSinkConfig
from kete_http.sink import HttpError, HttpSink

from kete_core.errors import ConfigError, ConfigErrors, PermanentError, RenderError

try:
    from kete_core.errors import Unavailable
except ImportError:  # kete-core before the spool
    Unavailable = None

FAST = {"retry-initial-backoff": "10ms", "retry-max-backoff": "200ms"}


async def test_one_request_per_event_with_kete_headers_and_the_payload(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url + "/events/${realmLowerCase}", **FAST)
    batch = [ev.user(id="1"), ev.user("LOGOUT", realm="Other", id="2"), ev.admin(id="3")]
    assert await sink.send(batch) is None
    assert len(receiver.requests) == 3
    by_id = {request.json()["id"]: request for request in receiver.requests}
    assert by_id["1"].path == "/events/acme" and by_id["2"].path == "/events/other"
    assert by_id["1"].method == "POST"
    assert by_id["1"].body == batch[0].payload
    assert by_id["1"].headers["x-eventkind"] == "EVENT"
    assert by_id["1"].headers["x-eventtype"] == "LOGIN"
    assert by_id["3"].headers["x-eventkind"] == "ADMIN_EVENT"
    assert by_id["3"].headers["x-eventtype"] == "USER_CREATE"
    assert by_id["1"].headers["Content-Type"] == "application/json"
    assert by_id["1"].headers["User-Agent"].startswith("kete-http")


async def test_templated_custom_headers_method_and_event_id_header(ev, receiver, make_sink):
    sink = make_sink(
        url=receiver.url + "/hook",
        method="put",
        headers={
            "X-Team": "security",
            "X-Realm": "${realmUpperCase}",
            "X-Kind": "${kindKebabCase}",
            "x-eventtype": "overridden by kete",
            "content-type": "text/plain",
        },
        **{"event-id-header": "Idempotency-Key"},
    )
    assert await sink.send([ev.user(realm="acme-prod", id="ev-1")]) is None
    (request,) = receiver.requests
    assert request.method == "PUT"
    assert request.headers["X-Team"] == "security"
    assert request.headers["X-Realm"] == "ACME-PROD"
    assert request.headers["X-Kind"] == "event"
    assert request.headers.getall("x-eventtype") == ["LOGIN"]
    assert request.headers.getall("Content-Type") == ["application/json"]
    assert request.headers["Idempotency-Key"] == "ev-1"


async def test_headers_named_like_kete_message_headers_or_blank_are_dropped_as_in_kete(ev, receiver, make_sink):
    reserved = {"EventKind": "x", "eventtype": "y", "ContentType": "z", "X-EventType": "w", "Content-Type": "v"}
    blank = {"X-Empty": "", "X-Spaces": "   "}
    sink = make_sink(url=receiver.url + "/hook", headers={**reserved, **blank, "X-Kept": " kept "})
    assert await sink.send([ev.user()]) is None
    (request,) = receiver.requests
    for name in ("eventkind", "eventtype", "contenttype", "X-Empty", "X-Spaces"):
        assert name not in request.headers
    assert request.headers.getall("x-eventtype") == ["LOGIN"]
    assert request.headers.getall("Content-Type") == ["application/json"]
    assert request.headers["X-Kept"] == "kept"


async def test_kete_host_port_path_form(ev, receiver, make_sink):
    port = int(receiver.url.rsplit(":", 1)[1])
    sink = make_sink(host="127.0.0.1", port=port, **{"path-and-query": "/in?source=kete&realm=${realmLowerCase}"})
    assert await sink.send([ev.user()]) is None
    assert receiver.requests[0].path == "/in?source=kete&realm=acme"


async def test_signature_is_p2_compatible_hmac_over_the_exact_bytes(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url, signing={"secret": "shh"})
    await sink.send([ev.user(id="a"), ev.admin(id="b")])
    for request in receiver.requests:
        expected = hmac.new(b"shh", request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Keycloak-Signature"] == expected

    receiver.requests.clear()
    sink = make_sink(
        url=receiver.url,
        signing={"secret": "shh", "header": "X-Hub-Signature", "algorithm": "HmacSHA1", "prefix": "sha1="},
        **{"content-encoding": "gzip"},
    )
    await sink.send([ev.user(id="c")])
    (request,) = receiver.requests
    assert request.headers["X-Hub-Signature"] == "sha1=" + hmac.new(b"shh", request.body, hashlib.sha1).hexdigest()
    assert request.headers["Content-Encoding"] == "gzip"  # the signature covers the compressed bytes sent


async def test_a_signed_timestamp_goes_with_the_signature(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url, signing={"secret": "shh", "timestamp-header": "X-Kete-Timestamp"})
    before = int(time.time())
    await sink.send([ev.user(id="a")])
    (request,) = receiver.requests
    stamp = request.headers["X-Kete-Timestamp"]
    assert before <= int(stamp) <= time.time()
    signed = stamp.encode() + b"." + request.body
    assert request.headers["X-Keycloak-Signature"] == hmac.new(b"shh", signed, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("encoding", "transfer", "decode"),
    [
        ("gzip", None, gzip.decompress),
        ("deflate", None, zlib.decompress),
        (None, "base64", base64.b64decode),
        ("gzip", "base64", lambda body: gzip.decompress(base64.b64decode(body))),
    ],
)
async def test_content_encodings(ev, receiver, make_sink, encoding, transfer, decode):
    settings = {"content-encoding": encoding, "content-transfer-encoding": transfer}
    sink = make_sink(url=receiver.url, **{key: value for key, value in settings.items() if value})
    batch = [ev.user(id="x")]
    assert await sink.send(batch) is None
    (request,) = receiver.requests
    assert decode(request.body) == batch[0].payload
    if encoding:
        assert request.headers["Content-Encoding"] == encoding
    if transfer:
        assert request.headers["Content-Transfer-Encoding"] == "base64"


@pytest.mark.parametrize(
    ("encoding", "transfer"), [("GZIP", ""), (" deflate ", ""), ("gzip", "Base64"), ("deflate", "base64"), ("", "")]
)
async def test_a_server_that_decodes_gets_the_original_bytes(ev, make_sink, encoding, transfer):
    # KETE's keys as users write them (any case, blank for none). aiohttp's server undoes a
    # Content-Encoding by itself; under a transfer encoding (applied last, as in KETE) the handler
    # undoes both, in reverse order.
    received: list[tuple[bytes, dict[str, str]]] = []
    inflate = {"gzip": gzip.decompress, "deflate": zlib.decompress}

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Transfer-Encoding") == "base64":
            body = inflate[request.headers["Content-Encoding"]](base64.b64decode(body, validate=True))
        received.append((body, dict(request.headers)))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app, access_log=None, auto_decompress=not transfer)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
        sink = make_sink(url=url, **{"content-encoding": encoding, "content-transfer-encoding": transfer})
        batch = [ev.user(id="1"), ev.admin(id="2")]
        assert await sink.send(batch) is None
    finally:
        await runner.cleanup()
    assert sorted(body for body, _ in received) == sorted(message.payload for message in batch)
    for _, headers in received:
        assert headers.get("Content-Encoding") == (encoding.strip().lower() or None)
        assert headers.get("Content-Transfer-Encoding") == (transfer.strip().lower() or None)
        assert headers["Content-Type"] == "application/json"


async def test_an_unknown_encoding_is_a_config_error_naming_the_setting(ev):
    from kete_core.validation import validate_settings

    with pytest.raises(ConfigErrors) as caught:
        validate_settings(HttpSinkConfig, {"url": "http://x", "content-encoding": "br"}, "routes.r.destination")
    assert "routes.r.destination.content-encoding: Input should be 'gzip' or 'deflate'" in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "header", "value"),
    [
        ({"authentication-type": "basic", "basic-username": "kete", "basic-password": "pw"}, "Authorization",
         "Basic " + base64.b64encode(b"kete:pw").decode()),
        ({"authentication-type": "bearer", "bearer-token": "tok"}, "Authorization", "Bearer tok"),
        ({"authentication-type": "api-key", "api-key-value": "k1"}, "Api-Key", "k1"),
        ({"authentication-type": "x-api-key", "x-api-key-value": "k2"}, "X-API-Key", "k2"),
    ],
)  # fmt: skip
async def test_static_authentication_modes(ev, receiver, make_sink, settings, header, value):
    sink = make_sink(url=receiver.url, headers={header: "overridden"}, **settings)
    assert await sink.send([ev.user()]) is None
    assert receiver.requests[0].headers.getall(header) == [value]


async def test_oauth_client_credentials_token_is_cached(ev, receiver, token_endpoint, make_sink):
    sink = make_sink(
        url=receiver.url,
        **{"authentication-type": "oauth", "max-concurrency": 8},
        oauth={"token-url": token_endpoint.url, "client-id": "kete", "client-secret": "s3cret",
               "scope": "events:write"},
    )  # fmt: skip
    assert await sink.send([ev.user(id=str(i)) for i in range(20)]) is None
    assert await sink.send([ev.user(id="again")]) is None
    assert token_endpoint.issued == ["token-1"]  # one fetch, even with 8 requests starting at once
    assert {request.headers["Authorization"] for request in receiver.requests} == {"Bearer token-1"}
    form = token_endpoint.forms[0]
    assert form["grant_type"] == "client_credentials" and form["scope"] == "events:write"
    assert form["authorization"].startswith("Basic ")  # client_secret_basic, as KETE


async def test_oauth_token_is_refreshed_before_expiry(ev, receiver, token_endpoint, make_sink):
    token_endpoint.expires_in = 1  # refreshed half way through a lifetime shorter than twice the 30 s margin
    sink = make_sink(
        url=receiver.url,
        oauth={"enabled": True, "token-url": token_endpoint.url, "client-id": "kete",
               "client-secret": "s3cret", "client-authentication": "post"},
    )  # fmt: skip
    await sink.send([ev.user()])
    await asyncio.sleep(0.6)
    await sink.send([ev.user()])
    assert token_endpoint.issued[:2] == ["token-1", "token-2"]
    assert token_endpoint.forms[0]["client_secret"] == "s3cret" and token_endpoint.forms[0]["authorization"] is None


async def test_oauth_token_is_replaced_after_a_401_once(ev, receiver, token_endpoint, make_sink):
    token_endpoint.expires_in = None  # absent expires_in: one hour
    sink = make_sink(
        url=receiver.url,
        **{"authentication-type": "oauth"},
        oauth={"token-url": token_endpoint.url, "client-id": "kete", "client-secret": "s3cret"},
    )
    receiver.fail(401)
    assert await sink.send([ev.user()]) is None
    assert token_endpoint.issued == ["token-1", "token-2"]
    assert [r.headers["Authorization"] for r in receiver.requests] == ["Bearer token-1", "Bearer token-2"]

    receiver.fail(401, 401)
    (error,) = await sink.send([ev.user()])
    assert isinstance(error, PermanentError) and "401" in str(error) and "freshly fetched" in str(error)
    assert token_endpoint.issued == ["token-1", "token-2", "token-3"]


async def test_oauth_internal_mode_uses_the_keycloak_token_url(ev, receiver, make_sink, new_token_endpoint):
    keycloak = await new_token_endpoint("/realms/ops/protocol/openid-connect/token", client_id="kete-oauth-client")
    sink = make_sink(
        url=receiver.url,
        **{"authentication-type": "OAUTH"},
        oauth={"mode": "internal", "realm": "ops", "keycloak-url": keycloak.base + "/", "client-secret": "s3cret"},
    )
    assert await sink.send([ev.user()]) is None
    assert receiver.requests[0].headers["Authorization"] == "Bearer token-1"


async def test_oauth_bad_credentials_fail_permanently(ev, receiver, token_endpoint, make_sink):
    sink = make_sink(
        url=receiver.url,
        **{"authentication-type": "oauth"},
        oauth={"token-url": token_endpoint.url, "client-id": "kete", "client-secret": "wrong"},
    )
    results = await sink.send([ev.user(), ev.user()])
    assert all(isinstance(error, PermanentError) for error in results)
    assert "HTTP 401" in str(results[0]) and not receiver.requests


async def test_server_errors_and_429_are_retried_until_recovery(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url, **FAST, **{"max-concurrency": 1, "retry-attempts": 4})
    receiver.fail(500, 503, (429, {"Retry-After": "0"}))
    assert await sink.send([ev.user(id="a"), ev.user(id="b")]) is None
    ids = [request.json()["id"] for request in receiver.requests]
    assert ids == ["a", "a", "a", "a", "b"]


async def test_retry_after_is_honoured(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url, **{"retry-initial-backoff": "1ms", "retry-max-backoff": "2s"})
    receiver.fail((429, {"Retry-After": "1"}))
    started = time.monotonic()
    assert await sink.send([ev.user()]) is None
    assert time.monotonic() - started >= 0.95
    assert len(receiver.requests) == 2


async def test_a_retry_after_longer_than_the_sink_waits_is_handed_to_kete(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url, **FAST, **{"max-concurrency": 1})
    receiver.fail((503, {"Retry-After": "120"}))
    if Unavailable is None:
        results = await sink.send([ev.user(id="a"), ev.user(id="b")])
        assert all(isinstance(error, HttpError) and error.retry_after == 120 for error in results)
    else:
        with pytest.raises(Unavailable) as caught:
            await sink.send([ev.user(id="a"), ev.user(id="b")])
        assert caught.value.retry_after == 120
    assert len(receiver.requests) == 1  # the destination asked for a pause: the rest of the batch waits too


async def test_timeouts_are_retried_then_succeed(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url, **FAST, **{"timeout-seconds": "300ms"})
    receiver.fail(("sleep", 3.0))
    started = time.monotonic()
    assert await sink.send([ev.user()]) is None
    assert 0.3 <= time.monotonic() - started < 2.5  # the first attempt was abandoned, not waited for
    assert len(receiver.requests) == 2


async def test_persistent_failure_is_returned_per_message_after_the_sink_retries(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url, **FAST, **{"retry-attempts": 2, "max-concurrency": 1})
    receiver.fail(500, 500, 500, 500)
    results = await sink.send([ev.user(id="a"), ev.user(id="b"), ev.user(id="c")])
    assert isinstance(results[0], HttpError) and results[0].status == 500
    assert isinstance(results[1], HttpError)
    assert results[2] is None  # a 500 is about one event: the others are still tried
    assert "HTTP 500: answer 500" in str(results[0])


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422, 302])
async def test_other_4xx_and_redirects_are_permanent_and_not_retried(ev, receiver, make_sink, status):
    sink = make_sink(url=receiver.url, **FAST, **{"max-concurrency": 1})
    receiver.fail((status, {"Location": "/elsewhere"}) if status == 302 else status)
    results = await sink.send([ev.user(id="a"), ev.user(id="b")])
    assert isinstance(results[0], PermanentError) and f"HTTP {status}" in str(results[0])
    assert results[1] is None
    assert len(receiver.requests) == 2


async def test_408_is_retried(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url, **FAST)
    receiver.fail(408)
    assert await sink.send([ev.user()]) is None
    assert len(receiver.requests) == 2


async def test_unreachable_destination_fails_fast_and_reports_an_outage(ev, receiver, make_sink):
    await receiver.stop()
    sink = make_sink(url=receiver.url, **FAST)
    started = time.monotonic()
    if Unavailable is None:
        results = await sink.send([ev.user(id=str(i)) for i in range(50)])
        assert all(isinstance(error, HttpError) and error.status is None for error in results)
    else:
        with pytest.raises(Unavailable, match="Connect") as caught:
            await sink.send([ev.user(id=str(i)) for i in range(50)])
        assert isinstance(caught.value.__cause__, HttpError) and caught.value.__cause__.status is None
    assert time.monotonic() - started < 2


async def test_an_outage_of_one_url_is_reported_per_event(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url + "/${realmLowerCase}", **FAST, **{"retry-attempts": 2})
    receiver.decide = lambda request: 503 if request.path == "/down" else None
    results = await sink.send([ev.user(realm="down", id="a"), ev.user(realm="up", id="b")])
    assert isinstance(results[0], HttpError) and results[0].status == 503
    assert results[1] is None


async def test_results_stay_aligned_across_urls_and_failures(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url + "/${realmLowerCase}", **FAST, **{"retry-attempts": 1})
    batch = [ev.user(realm=f"r{i % 3}", id=str(i)) for i in range(30)]
    receiver.delay = 0.01
    receiver.decide = lambda request: 404 if request.path == "/r1" else None
    results = await sink.send(batch)
    for index, result in enumerate(results):
        if index % 3 == 1:
            assert isinstance(result, PermanentError), index
        else:
            assert result is None, index
    assert len(receiver.requests) == 30


async def test_concurrency_is_bounded_and_connections_are_reused(ev, receiver, make_sink):
    receiver.delay = 0.02
    sink = make_sink(url=receiver.url, **{"max-concurrency": 4})
    assert await sink.send([ev.user(id=str(i)) for i in range(40)]) is None
    assert len(receiver.requests) == 40
    assert receiver.max_in_flight == 4
    connector = sink._session.connector
    assert len(connector._conns) == 1 and len(next(iter(connector._conns.values()))) == 4  # 4 kept-alive connections


async def test_values_in_the_url_are_percent_encoded_each_value_its_own_url(ev, receiver, make_sink):
    sink = make_sink(
        url=receiver.url + "/realms/${realmLowerCase}/events?type=${eventTypeLowerCase}&realm=${realmLowerCase}"
    )
    realms = ["a b", "a%20b", "a/b", "x?y=1#f", "a&b=c", "a@b:c,d;e", "é€", "ok", "..", "."]
    results = await sink.send([ev.user(realm=realm, id=str(number)) for number, realm in enumerate(realms)])
    assert results is not None and results[:-2] == [None] * (len(realms) - 2)
    for refused in results[-2:]:
        assert isinstance(refused, PermanentError) and "move up the path" in str(refused)
    raw = {request.json()["id"]: request.raw_path for request in receiver.requests}
    encoded = ["a%20b", "a%2520b", "a%2Fb", "x%3Fy%3D1%23f", "a%26b%3Dc", "a%40b%3Ac%2Cd%3Be", "%C3%A9%E2%82%AC", "ok"]
    assert raw == {
        str(number): f"/realms/{value}/events?type=login&realm={value}" for number, value in enumerate(encoded)
    }
    assert len(set(raw.values())) == len(raw)  # "a b" and "a%20b" are two values, so two URLs


async def test_the_configured_url_is_encoded_once_and_a_value_cannot_name_a_host(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url + "/in box/${realmLowerCase}?q=a%26b%25")
    results = await sink.send([ev.user(realm="a%")])
    assert results is None and receiver.requests[0].raw_path == "/in%20box/a%25?q=a%26b%25"
    hosted = make_sink(url="http://${realmLowerCase}.localhost:1/")
    (refused,) = await hosted.send([ev.user(realm="a b")])
    assert isinstance(refused, PermanentError) and "host name" in str(refused)


async def test_a_url_variable_with_no_value_fails_that_event_and_an_empty_header_is_not_sent(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url + "/${resourceTypeLowerCase}", headers={"X-Op": "${operationTypeLowerCase}"})
    results = await sink.send([ev.user(id="u"), ev.admin(id="a")])
    assert results is not None and isinstance(results[0], RenderError) and results[1] is None
    assert "${resourceTypeLowerCase} has no value for this event" in str(results[0])
    (request,) = receiver.requests
    assert request.raw_path == "/user" and request.headers["X-Op"] == "create"
    headers_only = make_sink(url=receiver.url + "/all", headers={"X-Op": "${operationTypeLowerCase}"})
    assert await headers_only.send([ev.user(id="u")]) is None
    assert "X-Op" not in receiver.requests[-1].headers


async def test_header_values_may_not_carry_control_characters(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url, headers={"X-Type": "${eventTypeLowerCase}"})
    results = await sink.send([ev.user("LOGIN\r\nX-Evil: 1"), ev.user()])
    assert isinstance(results[0], PermanentError) and results[1] is None
    assert len(receiver.requests) == 1


async def test_start_and_close_are_idempotent_and_close_releases_the_pool(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url)
    await sink.start()
    session = sink._session
    assert await sink.send([ev.user()]) is None
    await sink.close()
    await sink.close()
    assert session.closed


def test_settings_errors_name_the_setting_and_never_echo_secrets(ev):
    def errors(**settings):
        with pytest.raises(ConfigErrors) as caught:
            HttpSink(HttpSinkConfig.model_validate(settings), ev.context())
        return {error.path: str(error) for error in caught.value.errors}

    found = errors(**{"authentication-type": "basic", "basic-password": "hunter2"})
    assert set(found) == {"routes.r.destination.url", "routes.r.destination.basic-username"}
    assert "hunter2" not in "".join(found.values())
    found = errors(url="http://x/", **{"authentication-type": "oauth"}, oauth={"client-secret": "topsecret"})
    assert set(found) == {"routes.r.destination.oauth.token-url", "routes.r.destination.oauth.client-id"}
    assert "topsecret" not in "".join(found.values())
    found = errors(url="http://x/", oauth={"enabled": True, "mode": "internal"})
    assert set(found) == {"routes.r.destination.oauth.realm", "routes.r.destination.oauth.client-secret"}
    found = errors(url="http://x/", method="PO ST", headers={"bad header": "x"})
    assert set(found) == {"routes.r.destination.method", "routes.r.destination.headers.bad header"}
    found = errors(url="http://x/", tls={"key-store": {"loader": {"kind": "der-file-path", "path": "x.der"}}})
    assert "can only be a trust store" in found["routes.r.destination.tls.key-store.loader.kind"]
    with pytest.raises(ConfigError, match="unknown template variable"):
        HttpSink(HttpSinkConfig.model_validate({"url": "http://x/${realmLowercase}"}), ev.context())


async def test_oauth_enabled_false_means_no_token(ev, receiver, make_sink):
    sink = make_sink(url=receiver.url, **{"authentication-type": "oauth"}, oauth={"enabled": False})
    assert await sink.send([ev.user()]) is None
    assert "Authorization" not in receiver.requests[0].headers


async def test_a_session_is_made_on_first_send_without_start(ev, receiver):
    sink = HttpSink(HttpSinkConfig.model_validate({"url": receiver.url}), ev.context())
    try:
        assert await sink.send([ev.user()]) is None
    finally:
        await sink.close()
    async with aiohttp.ClientSession() as session, session.get(receiver.url) as response:
        assert response.status == 204
    assert orjson.loads(receiver.requests[0].body)["type"] == "LOGIN"
