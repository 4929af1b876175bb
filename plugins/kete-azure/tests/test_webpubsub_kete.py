"""``kete run`` with the azure-webpubsub sink: a KETE ``.properties`` configuration runs unchanged, and
the service stopped and started again in the middle of a run loses nothing."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from kete_core.testing import run_kete, user_event
from kete_core.testing.outage import run_through_an_outage

pytestmark = pytest.mark.azure


async def test_kete_properties_run_unchanged(tmp_path, start_service):
    service = await start_service(key="c2VjcmV0LWtleQ==")
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(user_event(n)) + b"\n" for n in range(1, 11)))
    config = tmp_path / "kete.properties"
    config.write_text(
        f"kete.data-dir={tmp_path / 'state'}\n"
        f"kete.sources.replay.kind=file\nkete.sources.replay.path={events}\n"
        "kete.routes.pubsub.destination.kind=azure-webpubsub\n"
        f"kete.routes.pubsub.destination.connection-string={service.connection_string}\n"
        "kete.routes.pubsub.destination.hub=keycloak\n"
        "kete.routes.pubsub.destination.group=${realmLowerCase}\n"
        "kete.routes.pubsub.destination.timeout-seconds=15\n"
    )
    result = await asyncio.to_thread(run_kete, "run", str(config))
    assert result.returncode == 0, result.stderr
    assert sorted(service.ids()) == sorted(f"e{n}" for n in range(1, 11))
    assert {(message.hub, message.group) for message in service.messages} == {("keycloak", "acme")}


async def test_every_event_arrives_through_a_service_restart(tmp_path, pubsub):
    destination = {
        "kind": "azure-webpubsub",
        "connection-string": pubsub.connection_string,
        "hub": "keycloak",
        "timeout-seconds": 2,
    }
    report = await run_through_an_outage(
        tmp_path, destination, received=pubsub.ids, stop=pubsub.stop, start=pubsub.start
    )
    assert "127.0.0.1" in report.not_ready
    assert sorted(pubsub.ids()) == sorted(event["id"] for event in report.sent)
    assert "route out: 20 matched, 20 delivered, 0 failed" in report.log
