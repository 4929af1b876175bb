"""The AMQP 1.0 test peer (kete_azure.testing.amqp) against independent clients: Microsoft's own
``azure-eventhub`` producer and ``azure-servicebus`` sender, and python-qpid-proton's client."""

from __future__ import annotations

import time
import uuid

import pytest
from azure.eventhub import EventData, TransportType
from azure.eventhub.aio import EventHubProducerClient
from azure.eventhub.exceptions import AuthenticationError, ConnectError, EventHubError
from azure.servicebus import ServiceBusMessage
from azure.servicebus.aio import ServiceBusClient
from azure.servicebus.exceptions import ServiceBusError
from kete_azure.testing import sas
from kete_azure.testing.amqp import MAX_MESSAGE_SIZE, AzureMessagingPeer
from kete_azure.testing.amqp_relay import padded
from proton import ConnectionException, LinkException
from proton.utils import BlockingConnection

pytestmark = pytest.mark.azure

KEY = "cGVlci1rZXk="
HOSTS = frozenset({"ns.servicebus.windows.net"})


@pytest.fixture
def hub(azure_amqp) -> str:
    name = f"hub-{uuid.uuid4().hex[:8]}"
    azure_amqp.event_hubs[name] = 3
    return name


def producer(peer: AzureMessagingPeer, hub: str, **options) -> EventHubProducerClient:
    return EventHubProducerClient.from_connection_string(peer.connection_string(hub), retry_total=0, **options)


async def test_the_producer_reads_the_hub_and_sends_batches_by_key_and_partition(azure_amqp, hub):
    async with producer(azure_amqp, hub) as client:
        properties = await client.get_eventhub_properties()
        assert properties["eventhub_name"] == hub and properties["partition_ids"] == ["0", "1", "2"]
        batch = await client.create_batch(partition_key="acme")
        assert batch.max_size_in_bytes == MAX_MESSAGE_SIZE  # the size the peer offers on attach
        first = EventData(b'{"id":"e1"}')
        first.properties = {"kind": "user", "type": "LOGIN"}
        first.content_type = "application/json"
        batch.add(first)
        batch.add(EventData(b'{"id":"e2"}'))
        await client.send_batch(batch)
        batch = await client.create_batch(partition_id="2")
        batch.add(EventData(b"plain"))
        await client.send_batch(batch)
        partition = await client.get_partition_properties("2")
    keyed, _, addressed = azure_amqp.messages(hub)
    assert [keyed.body, addressed.body] == [b'{"id":"e1"}', b"plain"]
    assert keyed.partition_key == "acme" and keyed.annotations["x-opt-partition-key"] == "acme"
    assert keyed.application_properties == {"kind": "user", "type": "LOGIN"}
    assert keyed.properties["content_type"] == "application/json" and keyed.batched
    assert {message.partition_id for message in azure_amqp.messages(hub)[:2]} == {keyed.partition_id}
    assert addressed.address == f"{hub}/Partitions/2" and addressed.partition_id == "2"
    in_two = [message for message in azure_amqp.messages(hub) if message.partition_id == "2"]
    assert partition["id"] == "2" and partition["last_enqueued_sequence_number"] == len(in_two) - 1


async def test_a_wrong_key_is_refused_as_the_service_refuses_it(azure_amqp, hub):
    client = EventHubProducerClient.from_connection_string(
        azure_amqp.connection_string(hub, key="d3Jvbmcta2V5"), retry_total=0
    )
    async with client:
        with pytest.raises(AuthenticationError, match="401"):
            await client.get_eventhub_properties()
        with pytest.raises(AuthenticationError):
            await client.send_batch([EventData(b"x")])
    assert "signature does not match" in azure_amqp.refused_tokens[-1]
    assert azure_amqp.messages(hub) == []


async def test_an_unknown_hub_is_not_found(azure_amqp):
    async with producer(azure_amqp, "no-such-hub") as client:
        with pytest.raises(EventHubError, match=r"404|could not be found"):
            await client.send_batch([EventData(b"x")])


def test_a_sender_without_a_token_is_detached_unauthorized(azure_amqp, hub):
    connection = BlockingConnection(f"127.0.0.1:{azure_amqp.port}", allowed_mechs="ANONYMOUS", timeout=10)
    try:
        with pytest.raises(LinkException, match="amqp:unauthorized-access"):
            connection.create_sender(hub)
        with pytest.raises((LinkException, ConnectionException), match="amqp:not-found"):
            connection.create_sender("no-such-hub")
    finally:
        connection.close()


async def test_failures_reject_the_next_transfers_then_it_accepts_again(azure_amqp, hub):
    # The SDK sends a refused batch twice even with retry_total=0.
    azure_amqp.fail_next(2, "com.microsoft:server-busy")
    async with producer(azure_amqp, hub) as client:
        with pytest.raises(EventHubError, match="server-busy"):
            await client.send_batch([EventData(b"refused")])
        assert azure_amqp.failures_left == 0
        await client.send_batch([EventData(b"taken")])
    assert [message.body for message in azure_amqp.messages(hub)] == [b"taken"]


async def test_stop_and_start_serve_again_on_the_same_port(azure_amqp, hub):
    port = azure_amqp.port
    azure_amqp.stop()
    try:
        async with producer(azure_amqp, hub, connection_timeout=2) as client:
            with pytest.raises((ConnectError, EventHubError)):
                await client.send_batch([EventData(b"lost")])
    finally:
        azure_amqp.start()
    assert azure_amqp.port == port
    async with producer(azure_amqp, hub) as client:
        await client.send_batch([EventData(b"after")])
    assert [message.body for message in azure_amqp.messages(hub)] == [b"after"]


async def test_amqps_with_the_test_ca_as_connection_verify(pki):
    peer = AzureMessagingPeer(event_hubs={"secure": 1}, tls=pki.server_context()).start()
    try:
        client = EventHubProducerClient.from_connection_string(
            peer.connection_string("secure"),
            custom_endpoint_address=peer.custom_endpoint_address,
            transport_type=TransportType.Amqp,  # custom endpoints default to WebSockets
            connection_verify=str(pki.ca_file),
            retry_total=0,
        )
        async with client:
            await client.send_batch([EventData(b"over tls")])
        untrusted = EventHubProducerClient.from_connection_string(
            peer.connection_string("secure"),
            custom_endpoint_address=peer.custom_endpoint_address,
            transport_type=TransportType.Amqp,
            retry_total=0,
        )
        async with untrusted:
            with pytest.raises(EventHubError):
                await untrusted.send_batch([EventData(b"refused")])
    finally:
        peer.close()
    assert [message.body for message in peer.messages()] == [b"over tls"]


async def test_the_service_bus_sender_to_a_queue_and_a_topic(azure_amqp):
    queue, topic = f"queue-{uuid.uuid4().hex[:8]}", f"topic-{uuid.uuid4().hex[:8]}"
    azure_amqp.queues.add(queue)
    azure_amqp.topics.add(topic)
    async with ServiceBusClient.from_connection_string(azure_amqp.connection_string(), retry_total=0) as client:
        async with client.get_queue_sender(queue) as sender:
            await sender.send_messages(ServiceBusMessage("one", application_properties={"kind": "user"}))
        async with client.get_topic_sender(topic) as sender:
            await sender.send_messages([ServiceBusMessage("two"), ServiceBusMessage("three")])
    [one] = azure_amqp.messages(queue)
    assert one.body == b"one" and one.application_properties == {"kind": "user"} and not one.batched
    assert [message.body for message in azure_amqp.messages(topic)] == [b"two", b"three"]


async def test_failures_can_be_for_one_entity_only(azure_amqp):
    refusing, taking = f"queue-{uuid.uuid4().hex[:8]}", f"queue-{uuid.uuid4().hex[:8]}"
    azure_amqp.queues |= {refusing, taking}
    azure_amqp.fail_next(1, "amqp:internal-error", entity=refusing)
    async with ServiceBusClient.from_connection_string(azure_amqp.connection_string(), retry_total=0) as client:
        async with client.get_queue_sender(taking) as sender:
            await sender.send_messages(ServiceBusMessage("taken"))
        assert azure_amqp.failures_left == 1
        async with client.get_queue_sender(refusing) as sender:
            with pytest.raises(ServiceBusError, match="amqp:internal-error"):
                await sender.send_messages(ServiceBusMessage("refused"))
            await sender.send_messages(ServiceBusMessage("accepted"))
    assert [message.body for message in azure_amqp.messages(taking)] == [b"taken"]
    assert [message.body for message in azure_amqp.messages(refusing)] == [b"accepted"]


def test_sas_tokens_are_checked_as_the_service_checks_them():
    keys = {"send": KEY}
    good = sas.sign("sb://ns.servicebus.windows.net/hub", "send", KEY)
    assert sas.refusal(good, "sb://ns.servicebus.windows.net/hub", keys, HOSTS) is None
    namespace = sas.sign("sb://ns.servicebus.windows.net/", "send", KEY)
    assert sas.refusal(namespace, "sb://ns.servicebus.windows.net/hub", keys, HOSTS) is None
    refusals = {
        "signature": sas.sign("sb://ns.servicebus.windows.net/hub", "send", "b3RoZXI="),
        "ExpiredToken": sas.sign("sb://ns.servicebus.windows.net/hub", "send", KEY, int(time.time()) - 1),
        "does not cover": sas.sign("sb://ns.servicebus.windows.net/other", "send", KEY),
        "not this namespace": sas.sign("sb://elsewhere.servicebus.windows.net/hub", "send", KEY),
        "no shared access policy": sas.sign("sb://ns.servicebus.windows.net/hub", "listen", KEY),
    }
    for why, token in refusals.items():
        assert why in (sas.refusal(token, "sb://ns.servicebus.windows.net/hub", keys, HOSTS) or ""), why


def test_the_relay_writes_every_field_of_a_performative():
    # An attach of 7 fields (list8), as proton-c sends it without its trailing nulls.
    fields = b"\xa1\x01n" + b"\x52\x00" + b"\x41" + b"\x40" * 4
    frame = b"\x02\x00\x00\x00" + b"\x00\x53\x12\xc0" + bytes([len(fields) + 1, 7]) + fields
    frame = (len(frame) + 4).to_bytes(4, "big") + frame
    whole = padded(frame)
    assert whole[8:12] == b"\x00\x53\x12\xd0"
    assert int.from_bytes(whole[16:20], "big") == 14 and whole.endswith(b"\x40" * 11)
    assert int.from_bytes(whole[:4], "big") == len(whole)
