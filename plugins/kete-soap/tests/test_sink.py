"""The soap sink against a real SOAP endpoint: KETE's envelope byte for byte, headers, faults, auth, TLS."""

from __future__ import annotations

import orjson
import pytest
from kete_http.sink import HttpError
from kete_serializers.xml_serializer import XmlSerializer

from kete_core import ComponentConfig, ConfigErrors, Message, PayloadEncoding, PermanentError, RenderError, parse_event
from kete_core.testing import admin_event, build_sink, user_event

pytestmark = pytest.mark.soap


def messages(*events: dict) -> list[Message]:
    parsed = [parse_event(event) for event in events]
    return [Message(event, orjson.dumps(event.to_kete()), "application/json") for event in parsed]


@pytest.fixture
async def sinks():
    """``sinks(settings)`` builds a soap sink; every one is closed afterwards."""
    built = []

    def make(**settings):
        sink = build_sink("soap", {"retry-attempts": 1, **settings})
        built.append(sink)
        return sink

    yield make
    for sink in built:
        await sink.close()


@pytest.mark.parametrize(
    ("version", "namespace", "content_type"),
    [
        ("1.1", "http://schemas.xmlsoap.org/soap/envelope/", "text/xml"),
        ("1.2", "http://www.w3.org/2003/05/soap-envelope", "application/soap+xml"),
    ],
)
async def test_the_envelope_and_headers_are_ketes(start_server, sinks, version, namespace, content_type):
    server = await start_server(version=version, action="urn:SendEvent")
    sink = sinks(url=f"{server.url}/ws/${{realmLowerCase}}", **{"soap-version": version, "soap-action": "urn:SendEvent"},
                 headers={"x-source": "keycloak", "SOAPAction": "mine", "content-type": "mine"})  # fmt: skip
    batch = messages(user_event(1), admin_event(2, realm="master"))
    assert await sink.send(batch) is None
    assert [envelope.path for envelope in server.received] == ["/ws/acme", "/ws/master"]
    for envelope, message, kind, event_type in zip(
        server.received, batch, ("EVENT", "ADMIN_EVENT"), ("LOGIN", "USER_CREATE"), strict=True
    ):
        # KETE's SoapDestination: no XML declaration, the payload raw inside soap:Body.
        assert envelope.wire == (
            f'<soap:Envelope xmlns:soap="{namespace}"><soap:Body>'.encode()
            + message.payload
            + b"</soap:Body></soap:Envelope>"
        )
        headers = envelope.headers
        assert headers["Content-Type"] == content_type  # no charset, no action parameter, as KETE
        assert headers.getall("SOAPAction") == ["urn:SendEvent"]  # the custom one is not sent
        assert (headers["x-eventkind"], headers["x-eventtype"]) == (kind, event_type)
        assert headers["x-source"] == "keycloak"


async def test_the_version_is_read_from_toml_numbers_and_properties_text(sinks, server):
    assert sinks(url=server.url, **{"soap-version": 1.2}).config.soap_version == "1.2"
    assert sinks(url=server.url, **{"soap-version": " 1.1 "}).config.soap_version == "1.1"
    assert sinks(url=server.url).config.soap_action is None
    with pytest.raises(ConfigErrors, match="soap-version"):
        sinks(url=server.url, **{"soap-version": "1.3"})


async def test_an_xml_payload_becomes_the_bodys_element(server, ev_xml, sinks):
    sink = sinks(url=server.url)
    assert await sink.send([ev_xml]) is None
    [envelope] = server.received
    assert envelope.payload == ev_xml.payload and envelope.payload.startswith(b"<Event><id>e1</id>")


@pytest.fixture
def ev_xml() -> Message:
    event = parse_event(user_event(1))
    serializer = XmlSerializer(ComponentConfig())
    return Message(event, serializer.serialize(event), serializer.content_type)


async def test_encodings_apply_to_the_whole_envelope(server, sinks):
    sink = sinks(url=server.url, **{"content-encoding": "gzip", "content-transfer-encoding": "base64"})
    [message] = messages(user_event(1))
    assert await sink.send([message]) is None
    [envelope] = server.received
    assert envelope.wire == PayloadEncoding("gzip", "base64").encode(envelope.envelope)
    assert envelope.payload == message.payload
    assert (envelope.headers["Content-Encoding"], envelope.headers["Content-Transfer-Encoding"]) == ("gzip", "base64")


async def test_a_payload_that_is_not_utf8_is_read_as_kete_reads_it(server, sinks):
    event = parse_event(user_event(1))
    sink = sinks(url=server.url)
    assert await sink.send([Message(event, "<x>café</x>".encode("latin-1"), "text/plain")]) is None
    assert server.received[0].payload == "<x>caf\ufffd</x>".encode()


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_a_fault_blamed_on_the_request_fails_that_event_alone(start_server, sinks, version):
    server = await start_server(version=version)

    def decide(envelope):
        if b'"e2"' in envelope.payload:
            return True, "unknown user e2"
        if b'"e3"' in envelope.payload:
            return False, "database hiccup"
        return None

    server.decide = decide
    sink = sinks(url=server.url, **{"soap-version": version})
    results = await sink.send(messages(*(user_event(n) for n in range(1, 5))))
    assert results[0] is None and results[3] is None
    sender = "Client" if version == "1.1" else "Sender"
    assert isinstance(results[1], PermanentError)
    assert str(results[1]).startswith(f"SOAP fault {sender}: unknown user e2")
    assert isinstance(results[2], HttpError)  # the server's own trouble: retried
    assert [orjson.loads(envelope.payload)["id"] for envelope in server.received] == ["e1", "e4"]


async def test_a_malformed_payload_is_faulted_by_the_server_and_fails_alone(server, sinks):
    event = parse_event(user_event(1))
    sink = sinks(url=server.url)
    [result] = await sink.send([Message(event, b"<unclosed>", "application/xml")])
    assert isinstance(result, PermanentError) and "SOAP fault Client: not XML" in str(result)


async def test_refused_credentials_are_a_clear_error_and_basic_authentication_works(start_server, sinks):
    server = await start_server(basic="kete:s3cret")
    wrong = sinks(url=server.url, **{"authentication-type": "basic", "basic-username": "kete", "basic-password": "x"})
    [result] = await wrong.send(messages(user_event(1)))
    assert isinstance(result, PermanentError) and "HTTP 401: who are you?" in str(result)
    right = sinks(url=server.url, **{"authentication-type": "basic", "basic-username": "kete",
                                     "basic-password": "s3cret"})  # fmt: skip
    assert await right.send(messages(user_event(1))) is None


async def test_an_unresolved_variable_in_the_url_fails_that_event_alone(server, sinks):
    sink = sinks(url=f"{server.url}/by-resource/${{resourceTypeLowerCase}}")
    results = await sink.send(messages(user_event(1), admin_event(2)))
    assert isinstance(results[0], RenderError) and results[1] is None
    assert [envelope.path for envelope in server.received] == ["/by-resource/user"]


async def test_mutual_tls(start_server, pki, sinks):
    server = await start_server(pki.server_context(require_client=True))
    sink = sinks(url=f"{server.url}/", tls={"trust-store": pki.store("pem-file-path", key=False, password=None),
                                          "key-store": pki.store("pkcs12-file-path", key=True)})  # fmt: skip
    assert await sink.send(messages(user_event(1))) is None
    assert len(server.received) == 1


def test_soap_is_posted():
    with pytest.raises(ConfigErrors, match="SOAP requests are POSTs"):
        build_sink("soap", {"url": "http://127.0.0.1:1/", "method": "PUT"})
