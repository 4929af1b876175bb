"""``kete run`` with the azure-eventhubs sink against the AMQP 1.0 peer: a KETE ``.properties``
configuration runs unchanged; the peer stopped and started again mid-run loses nothing; a batch the
service keeps refusing is dead-lettered, its events alone, while the rest is delivered once."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from kete_azure.testing.amqp import SERVER_BUSY

from kete_core.testing import read_jsonl, run_kete, user_event, write_jsonl
from kete_core.testing.outage import run_through_an_outage

pytestmark = pytest.mark.azure


@pytest.fixture
def hub(azure_amqp) -> str:
    name = f"keycloak-events-{uuid.uuid4().hex[:8]}"
    azure_amqp.event_hubs[name] = 4
    return name


def _properties(tmp_path, events: list[dict], route: str, destination: dict[str, object]) -> str:
    write_jsonl(tmp_path / "events.jsonl", events)
    lines = [
        f"kete.data-dir={tmp_path / 'state'}",
        "kete.sources.replay.kind=file",
        f"kete.sources.replay.path={tmp_path / 'events.jsonl'}",
        f"kete.routes.{route}.retry.max-attempts=2",
        f"kete.routes.{route}.retry.wait-duration=10ms",
        *(f"kete.routes.{route}.destination.{key}={value}" for key, value in destination.items()),
    ]
    config = tmp_path / "kete.properties"
    config.write_text("\n".join(lines) + "\n")
    return str(config)


async def test_kete_properties_run_unchanged(tmp_path, azure_amqp, hub):
    events = [user_event(number, realm=("acme", "other-realm")[number % 2]) for number in range(1, 11)]
    config = _properties(
        tmp_path, events, "hubs",
        {"kind": "azure-eventhubs", "connection-string": azure_amqp.connection_string(hub),
         "partition-key": "${realmLowerCase}", "timeout-seconds": 15, "headers.team": "iam",
         "pool.max-total": 10},
    )  # fmt: skip
    result = await asyncio.to_thread(run_kete, "run", config)
    assert result.returncode == 0, result.stderr
    received = azure_amqp.messages(hub)
    assert sorted(orjson.loads(message.body)["id"] for message in received) == sorted(f"e{n}" for n in range(1, 11))
    for message in received:
        event = orjson.loads(message.body)
        assert message.partition_key == event["realmName"]
        assert message.application_properties == {
            "team": "iam", "eventkind": "EVENT", "eventtype": "LOGIN", "contenttype": "application/json"
        }  # fmt: skip
    by_key = {key: [orjson.loads(m.body)["id"] for m in received if m.partition_key == key] for key in ("acme",)}
    assert by_key["acme"] == [f"e{n}" for n in range(2, 11, 2)]  # in order within a key


async def test_a_batch_the_service_keeps_refusing_is_dead_lettered_alone(tmp_path, azure_amqp, hub):
    azure_amqp.refusing = lambda got: SERVER_BUSY if any(m.partition_key == "other-realm" for m in got) else None
    events = [user_event(number, realm=("acme", "other-realm")[number % 2]) for number in range(1, 11)]
    config = _properties(
        tmp_path, events, "refusing",
        {"kind": "azure-eventhubs", "connection-string": azure_amqp.connection_string(hub),
         "partition-key": "${realmLowerCase}", "timeout-seconds": 5},
    )  # fmt: skip
    try:
        result = await asyncio.to_thread(run_kete, "run", config)
    finally:
        azure_amqp.refusing = None
    assert result.returncode == 1, result.stderr  # it dead-lettered events
    delivered = [orjson.loads(message.body)["id"] for message in azure_amqp.messages(hub)]
    assert delivered == [f"e{n}" for n in range(2, 11, 2)]  # each once
    dead = read_jsonl(tmp_path / "state" / "dead-letters" / "refusing.jsonl")
    assert sorted(letter["event"]["id"] for letter in dead) == sorted(f"e{n}" for n in range(1, 11, 2))
    assert all("server-busy" in letter["error"] for letter in dead), dead


async def test_every_event_arrives_through_an_outage(tmp_path, azure_amqp, hub):
    destination = {
        "kind": "azure-eventhubs",
        "connection-string": azure_amqp.connection_string(hub),
        "partition-key": "${realmLowerCase}",
        "timeout-seconds": 2,
    }

    def received() -> list[str]:
        return [orjson.loads(message.body)["id"] for message in azure_amqp.messages(hub)]

    report = await run_through_an_outage(
        tmp_path,
        destination,
        received=received,
        stop=lambda: asyncio.to_thread(azure_amqp.stop),
        start=lambda: asyncio.to_thread(azure_amqp.start),
    )
    assert "127.0.0.1" in report.not_ready
    assert sorted(received()) == sorted(event["id"] for event in report.sent)  # each once
    assert "route out: 20 matched, 20 delivered, 0 failed" in report.log
