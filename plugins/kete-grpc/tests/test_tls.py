"""TLS and mutual TLS to a real grpcio server, with certificates made by the test (kete_core.tls.testing.Pki)."""

from __future__ import annotations

import orjson
import pytest

from kete_core import Message, Unavailable, parse_event
from kete_core.testing import build_sink, user_event

pytestmark = pytest.mark.grpc


def message(number: int) -> Message:
    event = parse_event(user_event(number))
    return Message(event, orjson.dumps(event.to_kete()), "application/json")


@pytest.fixture
async def sinks():
    built = []

    def make(port: int, **tls):
        sink = build_sink("grpc", {"host": "127.0.0.1", "port": port, "service": "kete.Events", "method": "Send",
                                   "timeout-seconds": 3, "tls": tls})  # fmt: skip
        built.append(sink)
        return sink

    yield make
    for sink in built:
        await sink.close()


async def test_tls_with_ketes_trust_store(start_server, server_tls, pki, sinks):
    server = await start_server(server_tls())
    sink = sinks(server.port, enabled=True, **{"trust-store": pki.store("pem-file-path", key=False, password=None)})
    await sink.start()
    assert await sink.send([message(1)]) is None
    assert [orjson.loads(call.request)["id"] for call in server.events] == ["e1"]


async def test_tls_is_on_unless_use_plaintext_and_checks_the_server(start_server, server_tls, sinks):
    server = await start_server(server_tls())
    sink = sinks(server.port)  # no CA for the test's server: the system's CAs do not know it
    with pytest.raises(Unavailable, match="UNAVAILABLE"):
        await sink.start()
    assert server.calls == []


async def test_mutual_tls_with_a_pkcs12_key_store(start_server, server_tls, pki, sinks):
    server = await start_server(server_tls(require_client=True))
    sink = sinks(
        server.port,
        enabled=True,
        **{"ca-file": str(pki.ca_file), "key-store": pki.store("pkcs12-file-base64", key=True)},
    )
    await sink.start()
    assert await sink.send([message(1), message(2)]) is None
    assert len(server.events) == 2


async def test_mutual_tls_without_a_client_certificate_is_refused(start_server, server_tls, pki, sinks):
    server = await start_server(server_tls(require_client=True))
    sink = sinks(server.port, enabled=True, **{"ca-file": str(pki.ca_file)})
    with pytest.raises(Unavailable, match="UNAVAILABLE"):
        await sink.start()
    assert server.calls == []
