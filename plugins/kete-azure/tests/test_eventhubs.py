"""The azure-eventhubs sink's KETE settings and behaviour against the AMQP 1.0 peer
(kete_azure.testing.amqp), which records each event as Event Hubs receives it."""

from __future__ import annotations

import uuid

import pytest
from kete_azure.testing.amqp import SERVER_BUSY

from kete_core import ConfigErrors, PermanentError, RenderError, Unavailable
from kete_core.testing import json_message

KIND = "azure-eventhubs"


@pytest.fixture
def hub(azure_amqp) -> str:
    name = f"hub-{uuid.uuid4().hex[:8]}"
    azure_amqp.event_hubs[name] = 4
    return name


@pytest.fixture
def refusing(azure_amqp):
    """Set ``azure_amqp.refusing`` for the test alone."""
    yield azure_amqp
    azure_amqp.refusing = None


def _settings(peer, hub: str, **more) -> dict:
    return {"connection-string": peer.connection_string(hub), "timeout-seconds": 5, **more}


@pytest.mark.azure
async def test_events_arrive_with_their_partition_key_and_ketes_properties(azure_amqp, hub, make_sink, ev):
    headers = {"headers.team": "iam", "headers.eventkind": "not this", "headers.blank": " "}
    sink = make_sink(KIND, **_settings(azure_amqp, hub, **{"partition-key": "${realmLowerCase}"}, **headers))
    messages = [ev(1), ev(2, realm="Other-Realm", event_type="LOGOUT"), ev(3)]
    await sink.start()
    assert await sink.send(messages) is None
    received = azure_amqp.messages(hub)
    # One batch per partition key, in the order of each key's first event.
    assert [message.body for message in received] == [messages[0].payload, messages[2].payload, messages[1].payload]
    assert [message.partition_key for message in received] == ["acme", "acme", "other-realm"]
    assert all(message.batched and message.address == hub for message in received)
    assert received[0].partition_id == received[1].partition_id
    assert received[2].application_properties == {
        "team": "iam",
        "eventkind": messages[1].event.kind,
        "eventtype": "LOGOUT",
        "contenttype": "application/json",
    }


@pytest.mark.azure
async def test_partition_id_sends_every_event_to_that_partition(azure_amqp, hub, make_sink, ev):
    sink = make_sink(KIND, **_settings(azure_amqp, hub, **{"partition-id": "3"}))
    await sink.start()
    assert await sink.send([ev(1), ev(2, realm="other")]) is None
    received = azure_amqp.messages(hub)
    assert [(message.address, message.partition_id, message.partition_key) for message in received] == [
        (f"{hub}/Partitions/3", "3", None)
    ] * 2


@pytest.mark.azure
async def test_the_hub_from_event_hub_with_a_namespace_connection_string(azure_amqp, hub, make_sink, ev):
    sink = make_sink(KIND, **{"connection-string": azure_amqp.connection_string(), "event-hub": hub})
    await sink.start()
    assert await sink.send([ev(1)]) is None
    assert [message.body for message in azure_amqp.messages(hub)] == [ev(1).payload]


@pytest.mark.azure
async def test_an_event_too_large_for_a_batch_fails_alone(azure_amqp, hub, make_sink, ev):
    sink = make_sink(KIND, **_settings(azure_amqp, hub))
    huge = ev(2, details={"blob": "x" * (1024 * 1024)})
    results = await sink.send([ev(1), huge, ev(3)])
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], PermanentError) and "do not fit in an Event Hubs batch" in str(results[1])
    assert [message.body for message in azure_amqp.messages(hub)] == [ev(1).payload, ev(3).payload]


@pytest.mark.azure
async def test_many_events_are_cut_into_batches_below_the_size_limit(azure_amqp, hub, make_sink, ev):
    sink = make_sink(KIND, **_settings(azure_amqp, hub))
    messages = [ev(number, details={"blob": "y" * 200_000}) for number in range(1, 8)]
    assert await sink.send(messages) is None
    assert [message.body for message in azure_amqp.messages(hub)] == [message.payload for message in messages]


@pytest.mark.azure
async def test_a_refused_batch_fails_only_its_events_for_a_retry(refusing, hub, make_sink, ev):
    refusing.refusing = lambda got: SERVER_BUSY if any(m.partition_key == "other" for m in got) else None
    sink = make_sink(KIND, **_settings(refusing, hub, **{"partition-key": "${realmLowerCase}"}))
    results = await sink.send([ev(1), ev(2, realm="other"), ev(3), ev(4, realm="other")])
    assert results[0] is None and results[2] is None
    for failed in (results[1], results[3]):
        assert failed is not None and not isinstance(failed, PermanentError | RenderError)
        assert "server-busy" in str(failed)
    assert [message.body for message in refusing.messages(hub)] == [ev(1).payload, ev(3).payload]


@pytest.mark.azure
async def test_a_batch_refused_for_its_size_fails_for_good(refusing, hub, make_sink, ev):
    refusing.refusing = lambda got: "amqp:link:message-size-exceeded"
    results = await make_sink(KIND, **_settings(refusing, hub)).send([ev(1)])
    assert isinstance(results[0], PermanentError) and "message-size-exceeded" in str(results[0])


@pytest.mark.azure
async def test_a_wrong_key_is_a_clear_error_at_start_and_loses_nothing(azure_amqp, hub, make_sink, ev):
    wrong = azure_amqp.connection_string(hub, key="d3Jvbmcta2V5")
    sink = make_sink(KIND, **{"connection-string": wrong, "timeout-seconds": 5})
    with pytest.raises(PermanentError, match=r"refused the credentials .*401.*check connection-string"):
        await sink.start()
    sink = make_sink(KIND, **{"connection-string": wrong, "timeout-seconds": 5})
    with pytest.raises(Unavailable, match="the token was refused"):
        await sink.send([ev(1), ev(2)])
    assert azure_amqp.messages(hub) == []


@pytest.mark.azure
async def test_an_unknown_hub_or_partition_is_an_error_at_start(azure_amqp, hub, make_sink):
    with pytest.raises(PermanentError, match="the event hub does not exist"):
        await make_sink(KIND, **_settings(azure_amqp, "no-such-hub")).start()
    with pytest.raises(PermanentError, match=r"partition-id '9' is not a partition of the hub \(0, 1, 2, 3\)"):
        await make_sink(KIND, **_settings(azure_amqp, hub, **{"partition-id": "9"})).start()


@pytest.mark.azure
async def test_the_peer_out_of_reach_makes_the_route_wait(azure_amqp, hub, make_sink):
    sink = make_sink(KIND, **_settings(azure_amqp, hub))
    azure_amqp.stop()
    try:
        with pytest.raises(Unavailable, match=r"127\.0\.0\.1"):
            await sink.send([json_message(1)])
    finally:
        azure_amqp.start()
    assert await sink.send([json_message(2)]) is None


def _errors(make_sink, **settings) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        make_sink(KIND, **settings)
    return [str(error) for error in caught.value.errors]


CONNECTION = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=a2V5"


def test_ketes_checks_and_messages(make_sink):
    [text] = _errors(make_sink)
    assert "routes.r.destination.connection-string" in text and "'connection-string' or 'authentication-type'" in text
    both = {"connection-string": CONNECTION, "event-hub": "h", "partition-key": "k", "partition-id": "1"}
    [text] = _errors(make_sink, **both)
    assert "'partition-key' and 'partition-id' are mutually exclusive — set one or neither, not both" in text
    [text] = _errors(make_sink, **{"connection-string": CONNECTION})
    assert "event-hub is required when the connection string has no EntityPath" in text
    [text] = _errors(make_sink, **{"connection-string": CONNECTION + ";EntityPath=a", "event-hub": "b"})
    assert "differs from the connection string's EntityPath" in text
    [text] = _errors(make_sink, **{"connection-string": "Endpoint=sb://ns/;EntityPath=h"})
    assert "SharedAccessKey or SharedAccessSignature" in text
    [text] = _errors(make_sink, **{"connection-string": CONNECTION, "event-hub": "h", "custom-endpoint-address": "x"})
    assert "custom-endpoint-address must be a valid absolute URL" in text
    for key in ("queue", "topic", "stream", "subject", "endpoint", "access-key"):
        [text] = _errors(make_sink, **{"connection-string": CONNECTION, "event-hub": "h", key: "x"})
        assert f"'{key}' cannot be set for azure-eventhubs destinations" in text
    texts = _errors(make_sink, **{"connection-string": CONNECTION, "authentication-type": "managed-identity"})
    assert "'connection-string' cannot be set when 'authentication-type' is 'managed-identity'" in texts[0]
    texts = _errors(make_sink, **{"authentication-type": "default-azure-credential"})
    assert any("fully-qualified-namespace is required when authentication-type" in text for text in texts)
    assert any("'event-hub' is required when authentication-type is 'default-azure-credential'" in t for t in texts)
    texts = _errors(make_sink, **{"connection-string": CONNECTION, "event-hub": "h", "timeout-seconds": 0})
    assert any("timeout-seconds" in text for text in texts)
