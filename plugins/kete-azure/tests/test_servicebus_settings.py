"""The azure-servicebus sink's KETE settings and cross-checks; no Service Bus needed."""

from __future__ import annotations

import pytest

from kete_core import ConfigErrors, RenderError

KIND = "azure-servicebus"
KEY = "Endpoint=sb://keycloak.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=a2V5"


def _errors(make_sink, **settings) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        make_sink(KIND, **settings)
    return [str(error) for error in caught.value.errors]


def test_queue_xor_topic(make_sink):
    [text] = _errors(make_sink, **{"connection-string": KEY})
    assert "routes.r.destination.queue" in text
    assert "either 'queue' or 'topic' is required for azure-servicebus destinations" in text
    [text] = _errors(make_sink, **{"connection-string": KEY, "queue": "q", "topic": "t"})
    assert "'queue' and 'topic' are mutually exclusive — set one, not both" in text
    assert make_sink(KIND, **{"connection-string": KEY, "topic": " t "}).config.entity == "t"


def test_kete_authentication_cross_checks(make_sink):
    [text] = _errors(make_sink, queue="q")
    assert "routes.r.destination.connection-string" in text
    assert "'connection-string' or 'authentication-type' must be set" in text
    [text] = _errors(make_sink, queue="q", **{"authentication-type": "Connection-String"})
    assert "connection-string is required when authentication-type is 'connection-string'" in text
    texts = _errors(make_sink, queue="q", **{"authentication-type": "managed-identity", "connection-string": KEY})
    assert any("'connection-string' cannot be set when 'authentication-type' is 'managed-identity'" in t for t in texts)
    assert any(
        "fully-qualified-namespace is required when authentication-type is 'managed-identity'" in t for t in texts
    )
    [text] = _errors(make_sink, queue="q", **{"authentication-type": "access-key"})
    assert (
        "unsupported authentication-type: 'access-key' — valid options: connection-string, managed-identity, "
        "default-azure-credential" in text
    )
    sink = make_sink(KIND, queue="q", **{"authentication-type": " connection-string ", "connection-string": KEY})
    assert sink.config.authentication_type == "connection-string"


def test_the_connection_string_is_read_as_the_sdks_read_it(make_sink):
    def problem(connection: str) -> str:
        [text] = _errors(make_sink, queue="q", **{"connection-string": connection})
        return text

    assert "needs an Endpoint (sb://<namespace>/)" in problem("SharedAccessKeyName=a;SharedAccessKey=b")
    assert "SharedAccessKeyName and SharedAccessKey go together" in problem("Endpoint=sb://ns/;SharedAccessKey=b")
    assert "only one of SharedAccessKey and SharedAccessSignature" in problem(
        "Endpoint=sb://ns/;SharedAccessKeyName=a;SharedAccessKey=b;SharedAccessSignature=SharedAccessSignature sr=x"
    )
    assert "needs SharedAccessKey or SharedAccessSignature" in problem("Endpoint=sb://ns/")
    assert "Endpoint must be sb://" in problem("Endpoint=sb://:5671;SharedAccessKeyName=a;SharedAccessKey=b")


def test_the_namespace_and_where_connections_go(make_sink):
    def namespace(**settings):
        return make_sink(KIND, queue="q", **settings).namespace

    found = namespace(**{"connection-string": KEY})
    assert (found.host, found.port, found.connect_to, found.emulator) == (
        "keycloak.servicebus.windows.net",
        5671,
        ("keycloak.servicebus.windows.net", 5671),
        False,
    )
    assert str(found) == "sb://keycloak.servicebus.windows.net"
    # The SDKs keep an Endpoint's port only for the emulator.
    emulator = namespace(
        **{
            "connection-string": "Endpoint=sb://127.0.0.1:5673;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=true"
        }
    )
    assert (emulator.connect_to, emulator.emulator, str(emulator)) == (("127.0.0.1", 5673), True, "sb://127.0.0.1:5673")
    assert namespace(
        **{
            "connection-string": "Endpoint=sb://localhost;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=true"
        }
    ).connect_to == ("localhost", 5672)
    assert namespace(**{"connection-string": KEY.replace("windows.net/", "windows.net:443/")}).port == 5671
    gateway = namespace(**{"connection-string": KEY, "custom-endpoint-address": "sb://gateway.example:9443"})
    assert (gateway.host, gateway.connect_to) == ("keycloak.servicebus.windows.net", ("gateway.example", 9443))
    assert namespace(**{"connection-string": KEY, "custom-endpoint-address": "https://gateway.example"}).connect_to == (
        "gateway.example",
        5671,
    )
    [text] = _errors(make_sink, queue="q", **{"connection-string": KEY, "custom-endpoint-address": "gateway:port"})
    assert "custom-endpoint-address must be a valid absolute URL" in text


def test_the_entity_path_of_a_connection_string_must_be_the_entity(make_sink):
    scoped = f"{KEY};EntityPath=keycloak-events"
    assert (
        make_sink(KIND, queue="keycloak-events", **{"connection-string": scoped}).namespace.entity == "keycloak-events"
    )
    [text] = _errors(make_sink, queue="other", **{"connection-string": scoped})
    assert (
        "routes.r.destination.queue" in text and "is not the connection string's EntityPath 'keycloak-events'" in text
    )


async def test_an_event_naming_another_entity_than_the_entity_path_fails_alone(make_sink, ev):
    sink = make_sink(KIND, queue="${realmLowerCase}", **{"connection-string": f"{KEY};EntityPath=acme"})
    [result] = await sink.send([ev(1, realm="other")])
    assert "'other' is not the connection string's EntityPath 'acme'" in str(result)


def test_token_authentication_names_the_namespace(make_sink):
    for kind in ("managed-identity", "Default-Azure-Credential"):
        sink = make_sink(
            KIND,
            queue="q",
            **{"authentication-type": kind, "fully-qualified-namespace": "sb://ns.servicebus.windows.net/"},
        )
        assert sink.config.token_authentication
        assert (sink.namespace.host, sink.namespace.connect_to) == (
            "ns.servicebus.windows.net",
            ("ns.servicebus.windows.net", 5671),
        )
    sink = make_sink(
        KIND,
        queue="q",
        **{
            "authentication-type": "managed-identity",
            "managed-identity-client-id": "the-client-id",
            "fully-qualified-namespace": "ns.servicebus.windows.net",
        },
    )
    assert sink.config.managed_identity_client_id == "the-client-id"


def test_other_kinds_settings_are_refused_as_kete_refuses_them(make_sink):
    for setting in ("stream", "event-hub", "partition-key", "partition-id", "endpoint", "access-key"):
        [text] = _errors(make_sink, queue="q", **{"connection-string": KEY, setting: "x"})
        assert f"routes.r.destination.{setting}" in text


def test_timeout_and_kete_settings_accepted(make_sink):
    [text] = _errors(make_sink, queue="q", **{"connection-string": KEY, "timeout-seconds": 0})
    assert "timeout-seconds" in text
    sink = make_sink(
        KIND,
        queue="q",
        **{
            "connection-string": KEY,
            "timeout-seconds": "30",
            "content-encoding": "gzip",
            "pool": {"max-total": "10"},
            "headers": {"environment": "production", "eventtype": "mine", "blank": " ", " source ": " keycloak "},
        },
    )
    assert sink.config.timeout_seconds == 30
    # KETE's own three win over headers of the same name; blank values are not sent.
    assert sink.headers == {"environment": "production", "source": "keycloak"}


async def test_unresolved_variables_and_unfit_names_fail_their_events_alone(make_sink, ev):
    sink = make_sink(
        KIND,
        queue="events-${realmLowerCase}",
        subject="${resourceTypeLowerCase}",
        **{"connection-string": KEY},
    )
    results = await sink.send([ev(1), ev(2, realm="a/b")])
    assert all(isinstance(result, RenderError) for result in results)
    assert "resourceType" in str(results[0])
    entity_sink = make_sink(KIND, queue="events-${realmLowerCase}", **{"connection-string": KEY})
    [result] = await entity_sink.send([ev(3, realm="a/b")])
    assert isinstance(result, RenderError) and "Service Bus entity name" in str(result)
