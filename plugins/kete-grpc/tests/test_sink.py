"""The grpc sink against a real grpcio server: what each call carries, statuses, outages, settings."""

from __future__ import annotations

import asyncio
import base64
import gzip

import grpc
import orjson
import pytest
from kete_grpc.sink import GrpcError

from kete_core import ConfigErrors, Message, PayloadEncoding, PermanentError, RenderError, Unavailable, parse_event
from kete_core.testing import admin_event, build_sink, user_event
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.grpc


def messages(*events: dict) -> list[Message]:
    parsed = [parse_event(event) for event in events]
    return [Message(event, orjson.dumps(event.to_kete()), "application/json") for event in parsed]


def settings(server, **extra) -> dict:
    return {"host": "127.0.0.1", "port": server.port, "service": "com.example.EventService",
            "method": "SendEvent", "use-plaintext": True, **extra}  # fmt: skip


@pytest.fixture
async def sinks():
    """``sinks(settings)`` builds and starts a grpc sink; every one is closed afterwards."""
    built = []

    async def make(config: dict, start: bool = True):
        sink = build_sink("grpc", config)
        built.append(sink)
        if start:
            await sink.start()
        return sink

    yield make
    for sink in built:
        await sink.close()


async def test_each_call_carries_the_raw_payload_and_ketes_metadata(server, sinks):
    sink = await sinks(settings(server, headers={"X-Tenant": " acme ", "eventtype": "mine", "x-blank": " "}))
    batch = messages(user_event(1), admin_event(2))
    assert await sink.send(batch) is None
    [probe] = [call for call in server.calls if call.probe]
    assert probe.method == "/com.example.EventService/SendEvent" and probe.request == b""  # KETE's start-up probe
    assert [call.request for call in server.events] == [message.payload for message in batch]
    for call, kind, event_type in zip(server.events, ("EVENT", "ADMIN_EVENT"), ("LOGIN", "USER_CREATE"), strict=True):
        assert call.method == "/com.example.EventService/SendEvent"
        assert call.metadata["eventkind"] == kind
        assert call.metadata["eventtype"] == event_type
        assert call.metadata["contenttype"] == "application/json"
        assert call.metadata["x-tenant"] == "acme"  # lower-cased and trimmed, as gRPC-Java sends it
        assert "x-blank" not in call.metadata  # a blank value is not sent, as in KETE
        assert call.metadata["user-agent"].startswith("kete-grpc")


async def test_payloads_are_encoded_as_ketes_encoders_write_them(server, sinks):
    sink = await sinks(settings(server, **{"content-encoding": "gzip", "content-transfer-encoding": "base64"}))
    [message] = messages(user_event(1))
    assert await sink.send([message]) is None
    [call] = server.events
    assert gzip.decompress(base64.b64decode(call.request)) == message.payload
    assert base64.b64decode(call.request)[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # Java's header
    assert call.request == PayloadEncoding("gzip", "base64").encode(message.payload)


async def test_the_calls_of_a_batch_are_in_flight_together_on_one_channel(server, sinks):
    server.delay = 0.05
    sink = await sinks(settings(server, **{"max-concurrency": 8}))
    batch = messages(*(user_event(n) for n in range(40)))
    assert await sink.send(batch) is None
    assert server.max_in_flight == 8
    assert sorted(call.request for call in server.events) == sorted(message.payload for message in batch)
    assert await sink.send(messages(user_event(99))) is None  # the channel stays open across batches


async def test_a_refused_event_fails_alone_and_the_others_are_delivered(server, sinks):
    def decide(call):
        if b'"e2"' in call.request:
            return grpc.StatusCode.INVALID_ARGUMENT, "no such user"
        if b'"e3"' in call.request:
            return grpc.StatusCode.INTERNAL, "database hiccup"
        return None

    server.decide = decide
    sink = await sinks(settings(server))
    results = await sink.send(messages(*(user_event(n) for n in range(1, 5))))
    assert results[0] is None and results[3] is None
    assert isinstance(results[1], PermanentError)
    assert "gRPC INVALID_ARGUMENT: no such user" in str(results[1])
    assert isinstance(results[2], GrpcError) and not isinstance(results[2], PermanentError)  # the route retries it
    assert "gRPC INTERNAL" in str(results[2])


async def test_a_message_too_large_for_the_server_fails_alone_and_never_stalls_the_route(server, sinks):
    server.decide = lambda call: (grpc.StatusCode.RESOURCE_EXHAUSTED, "Received message larger than max")
    sink = await sinks(settings(server))
    [result] = await sink.send(messages(user_event(1)))  # returned for the route's retries, not Unavailable
    assert isinstance(result, GrpcError) and not result.down


async def test_refused_credentials_are_a_clear_permanent_error(server, sinks):
    def decide(call):
        if call.metadata.get("authorization") != "Bearer right":
            return grpc.StatusCode.UNAUTHENTICATED, "bad token"
        return None

    server.decide = decide
    sink = await sinks(settings(server, headers={"authorization": "Bearer wrong"}))  # the probe passes: not a 'down'
    [result] = await sink.send(messages(user_event(1)))
    assert isinstance(result, PermanentError)
    assert "refused kete's credentials" in str(result) and "UNAUTHENTICATED: bad token" in str(result)
    assert "headers.authorization" in str(result)
    good = await sinks(settings(server, headers={"authorization": "Bearer right"}))
    assert await good.send(messages(user_event(2))) is None


async def test_an_unresolved_variable_in_the_method_fails_that_event_alone(server, sinks):
    sink = await sinks(settings(server, service="audit.${realmPascalCase}", method="On${resourceTypePascalCase}"))
    results = await sink.send(messages(user_event(1, realm="acme"), admin_event(2, realm="acme")))
    assert isinstance(results[0], RenderError)  # a user event has no resource type
    assert results[1] is None
    assert [call.method for call in server.calls] == ["/audit.Acme/OnUser"]  # no probe: the name is templated
    results = await sink.send(messages(admin_event(3, realm="a/b")))
    assert isinstance(results[0], RenderError)  # a value that is no gRPC name is refused, never sent


async def test_a_server_that_goes_away_makes_the_route_wait_and_is_found_again(start_server, sinks):
    server = await start_server()
    sink = await sinks(settings(server, **{"timeout-seconds": 2}))
    assert await sink.send(messages(user_event(1))) is None
    port = server.port
    await server.stop()
    with pytest.raises(Unavailable, match="UNAVAILABLE"):
        await sink.send(messages(user_event(2), user_event(3)))
    restarted = await start_server(port=port)
    for _ in range(100):  # the route's own backoff, shortened
        try:
            assert await sink.send(messages(user_event(2), user_event(3))) is None
            break
        except Unavailable:
            await asyncio.sleep(0.1)
    assert [orjson.loads(call.request)["id"] for call in restarted.events] == ["e2", "e3"]


async def test_a_server_slower_than_the_deadline_makes_the_route_wait(server, sinks):
    sink = await sinks(settings(server, **{"timeout-seconds": "300ms", "max-concurrency": 2}))
    server.delay = 1.0
    with pytest.raises(Unavailable, match="DEADLINE_EXCEEDED"):
        await sink.send(messages(*(user_event(n) for n in range(6))))
    assert len(server.events) == 2  # after the first deadline the rest of the batch is not called


async def test_a_server_that_is_down_at_start_is_unavailable(sinks):
    (port,) = free_ports(1)
    sink = await sinks({"host": "127.0.0.1", "port": port, "service": "S", "method": "M", "use-plaintext": True},
                       start=False)  # fmt: skip
    with pytest.raises(Unavailable, match=r"gRPC UNAVAILABLE.*Connection refused"):
        await sink.start()


async def test_the_probe_accepts_any_answer_but_unavailable(server, sinks):
    server.decide = lambda call: (grpc.StatusCode.UNIMPLEMENTED, "probe") if call.probe else None
    sink = await sinks(settings(server))
    assert await sink.send(messages(user_event(1))) is None


def test_settings_errors_name_their_place():
    with pytest.raises(ConfigErrors) as caught:
        build_sink("grpc", {"headers": {"grpc-timeout": "1", "x-bin-bin": "a", "x-ok": "é"}, "tls": {"verify": False}})
    text = str(caught.value)
    for where in ("destination.host", "destination.service", "destination.method", "headers.grpc-timeout",
                  "headers.x-bin-bin", "headers.x-ok", "tls.verify"):  # fmt: skip
        assert where in text, text


def test_the_defaults_are_ketes():
    sink = build_sink("grpc", {"host": "h", "service": "S", "method": "M"})
    config = sink.config
    assert (config.port, config.timeout_seconds, config.use_plaintext) == (50051, 10.0, False)
