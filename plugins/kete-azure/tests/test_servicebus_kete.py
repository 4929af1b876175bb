"""``kete run`` with the azure-servicebus sink against the AMQP 1.0 peer: a KETE ``.properties``
configuration runs unchanged; the namespace going away in the middle of a run loses nothing; a batch the
service keeps refusing is retried alone and finally dead-lettered, the rest delivered once."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from kete_core.testing import read_jsonl, run_kete, user_event, write_jsonl
from kete_core.testing.outage import run_through_an_outage

pytestmark = pytest.mark.azure


def _properties(tmp_path, events: list[dict], destination: dict[str, str], *extra: str) -> str:
    write_jsonl(tmp_path / "events.jsonl", events)
    lines = [
        f"kete.data-dir={tmp_path / 'state'}",
        "kete.sources.replay.kind=file",
        f"kete.sources.replay.path={tmp_path / 'events.jsonl'}",
        *extra,
        *(f"kete.routes.bus.destination.{key}={value}" for key, value in destination.items()),
    ]
    config = tmp_path / "kete.properties"
    config.write_text("\n".join(lines) + "\n")
    return str(config)


async def test_kete_properties_run_unchanged(tmp_path, bus):
    events = [user_event(n, realm=("acme", "other-realm")[n % 2]) for n in range(1, 11)]
    config = _properties(
        tmp_path,
        events,
        {
            "kind": "azure-servicebus",
            "connection-string": bus.connection_string(),
            "queue": "${realmLowerCase}",
            "subject": "keycloak/${eventTypeLowerCase}",
            "session-id": "${realmLowerCase}",
            "headers.environment": "production",
            "timeout-seconds": "15",
            "content-encoding": "gzip",  # accepted and, as in KETE, not applied by this kind
            "pool.max-total": "10",
        },
    )
    result = await asyncio.to_thread(run_kete, "run", config)
    assert result.returncode == 0, result.stderr
    for realm in ("acme", "other-realm"):
        received = bus.messages(realm)
        assert [orjson.loads(m.body)["id"] for m in received] == [e["id"] for e in events if e["realmName"] == realm]
        for message in received:
            assert message.properties["group_id"] == realm and message.properties["subject"] == "keycloak/login"
            assert message.application_properties == {
                "environment": "production",
                "eventkind": "EVENT",
                "eventtype": "LOGIN",
                "contenttype": "application/json",
            }


async def test_every_event_arrives_through_an_outage_of_the_namespace(tmp_path, bus):
    destination = {
        "kind": "azure-servicebus",
        "connection-string": bus.connection_string(),
        "queue": "keycloak-events",
        "timeout-seconds": 2,
    }

    def received() -> list[str]:
        return [orjson.loads(message.body)["id"] for message in bus.messages()]

    report = await run_through_an_outage(
        tmp_path,
        destination,
        received=received,
        stop=lambda: asyncio.to_thread(bus.stop),
        start=lambda: asyncio.to_thread(bus.start),
    )
    assert "127.0.0.1" in report.not_ready
    assert sorted(received()) == sorted(event["id"] for event in report.sent)  # each once
    assert "route out: 20 matched, 20 delivered, 0 failed" in report.log


async def test_a_refused_batch_is_retried_alone_and_finally_dead_lettered(tmp_path, bus):
    events = [user_event(n, realm=("acme", "other-realm")[n % 2]) for n in range(1, 13)]
    bus.fail_next(100, "amqp:internal-error", entity="acme")  # every batch to acme, for ever
    config = _properties(
        tmp_path,
        events,
        {"kind": "azure-servicebus", "connection-string": bus.connection_string(), "queue": "${realmLowerCase}"},
        "kete.routes.bus.retry.max-attempts=3",
        "kete.routes.bus.retry.wait-duration=10ms",
    )
    result = await asyncio.to_thread(run_kete, "run", config)
    assert result.returncode == 1, result.stderr  # kete exits 1 when it dead-lettered events
    other = [e["id"] for e in events if e["realmName"] == "other-realm"]
    # Delivered once each: the retries carried only the refused batch's events.
    assert [orjson.loads(m.body)["id"] for m in bus.messages("other-realm")] == other
    assert bus.messages("acme") == []
    dead = read_jsonl(tmp_path / "state" / "dead-letters" / "bus.jsonl")
    assert sorted(letter["event"]["id"] for letter in dead) == sorted(
        e["id"] for e in events if e["realmName"] == "acme"
    )
    assert all("amqp:internal-error" in letter["error"] for letter in dead)
