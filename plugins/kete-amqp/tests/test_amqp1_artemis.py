"""The amqp-1 sink against a real Apache ActiveMQ Artemis, which settles a transfer it cannot take with a ``rejected``
disposition (RabbitMQ 3 never does): a refused message fails its event alone, is retried as the route says and then
dead-lettered with the broker's reason, while the rest is delivered once; and a KETE ``.properties`` configuration
delivers messages that an independent AMQP 1.0 client (Qpid Proton's blocking API) reads back as KETE's Qpid JMS
client built them."""

from __future__ import annotations

import orjson
import pytest
from proton import symbol

from kete_core import Message, parse_event
from kete_core.testing import build_sink, read_jsonl, replay_config, run_kete, user_event, write_jsonl
from tests.services import rabbitmq_client as at
from tests.services.artemis_fixtures import FULL, PASSWORD, USER

pytestmark = pytest.mark.artemis


def destination(artemis, name: str) -> dict:
    return {
        "host": "127.0.0.1",
        "port": artemis.port("amqp"),
        "username": USER,
        "password": PASSWORD,
        "destination-name": name,
        "send-timeout-seconds": 5,
    }


def test_a_rejected_message_fails_its_event_alone_and_is_dead_lettered_with_the_reason(artemis, artemis_tag, tmp_path):
    """Realm ``full`` goes to an address that takes one message: kete's first (e1) fills it, and the broker
    rejects the later ones (e4, e7) each time kete sends them, while the others are delivered once."""
    full, open_ = f"{FULL}{artemis_tag}", f"kete.open.{artemis_tag}"
    events = [user_event(number, realm=("open", "full", "open")[number % 3]) for number in range(9)]
    write_jsonl(tmp_path / "events.jsonl", events)
    settings = {"kind": "amqp-1", **destination(artemis, f"kete.${{realmLowerCase}}.{artemis_tag}")}
    retry = {"max-attempts": 3, "wait-duration": "10ms", "max-wait-duration": "1s"}
    config = replay_config(tmp_path, settings, retry=retry)
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "route r: 9 matched, 7 delivered, 2 failed" in result.stderr, result.stderr
    assert at.ids(artemis.receive(open_, count=6)) == [event["id"] for event in events if event["realmName"] == "open"]
    assert at.ids(artemis.receive(full)) == ["e1"]  # the refused ones were never stored, however often sent
    letters = read_jsonl(tmp_path / "data" / "dead-letters" / "r.jsonl")
    assert [letter["event"]["id"] for letter in letters] == ["e4", "e7"]
    for letter in letters:
        assert letter["attempts"] == 3
        assert letter["error"] == (
            f"Refused: the broker rejected the message to '{full}': amqp:resource-limit-exceeded: "
            f'AMQ229102: Address "{full}" is full.'
        ), letter["error"]


async def test_an_address_given_no_credit_fails_its_message_alone_and_the_connection_goes_on(artemis, artemis_tag):
    """Artemis gives a new link to a full address no credit at all: the message to it never leaves kete, fails
    alone after ``send-timeout-seconds`` with that reason, and cannot arrive later; the others are delivered."""
    full, open_ = f"{FULL}{artemis_tag}", f"kete.open.{artemis_tag}"
    artemis.fill(full)
    settings = destination(artemis, f"kete.${{realmLowerCase}}.{artemis_tag}") | {"send-timeout-seconds": 1}
    sink = build_sink("amqp-1", settings)
    realms = ["open", "full", "open", "open"]
    events = [parse_event(user_event(number, realm=realm)) for number, realm in enumerate(realms)]
    messages = [Message(event, orjson.dumps({"id": event.id}), "application/json") for event in events]
    await sink.start()
    try:
        results = await sink.send(messages)
        assert results is not None
        assert [result is None for result in results] == [True, False, True, True], results
        assert str(results[1]) == (
            f"the broker gave no credit to send to '{full}' in 1 s: it holds messages to that address back "
            "(full, or blocked)"
        )
        assert not any(await sink.send(messages[2:]) or [])
    finally:
        await sink.close()
    assert at.ids(artemis.receive(open_, count=5)) == ["e0", "e2", "e3", "e2", "e3"]
    assert len(artemis.receive(full)) == 1  # only the message that filled it


def test_a_kete_properties_configuration_is_read_back_by_an_independent_client(artemis, artemis_tag, tmp_path):
    address = f"kete.audit.{artemis_tag}"
    events = at.make_events(6)
    at.deliver_kete_properties(
        tmp_path,
        "amqp",
        {
            "kind": "amqp-1",
            "host": "127.0.0.1",
            "port": artemis.port("amqp"),
            "username": USER,
            "password": PASSWORD,
            "destination-name": address,
            "destination-type": "queue",
            "delivery-mode": "persistent",
            "priority": 7,
            "time-to-live-seconds": 300,
            "headers.X-Source": "keycloak",
        },
        count=len(events),
    )
    got = artemis.receive(address, count=6)
    assert at.ids(got) == [event["id"] for event in events]
    for message, event in zip(got, events, strict=True):
        admin = "resourceType" in event
        assert message.properties == {
            "X-Source": "keycloak",
            "eventkind": "ADMIN_EVENT" if admin else "EVENT",
            "eventtype": "USER_CREATE" if admin else "LOGIN",
            "contenttype": "application/json",
        }
        assert message.durable is True
        assert message.priority == 7
        assert message.ttl == 300
        assert message.annotations[symbol("x-opt-jms-msg-type")] == 3
