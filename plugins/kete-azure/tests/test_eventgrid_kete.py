"""``kete run`` with the azure-eventgrid sink: a KETE ``.properties`` configuration runs unchanged,
and the topic stopped and started again in the middle of a run loses nothing."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from kete_core.testing import run_kete, user_event
from kete_core.testing.outage import run_through_an_outage

pytestmark = pytest.mark.azure


async def test_kete_properties_run_unchanged(tmp_path, start_topic):
    topic = await start_topic(key="c2VjcmV0LWtleQ==")
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(user_event(n)) + b"\n" for n in range(1, 11)))
    config = tmp_path / "kete.properties"
    config.write_text(
        f"kete.data-dir={tmp_path / 'state'}\n"
        f"kete.sources.replay.kind=file\nkete.sources.replay.path={events}\n"
        "kete.routes.grid.destination.kind=azure-eventgrid\n"
        f"kete.routes.grid.destination.endpoint={topic.url}\n"
        "kete.routes.grid.destination.access-key=c2VjcmV0LWtleQ==\n"
        "kete.routes.grid.destination.subject=keycloak/${realmLowerCase}\n"
        "kete.routes.grid.destination.timeout-seconds=15\n"
    )
    result = await asyncio.to_thread(run_kete, "run", str(config))
    assert result.returncode == 0, result.stderr
    assert sorted(topic.ids()) == sorted(f"e{n}" for n in range(1, 11))
    assert {event["subject"] for event in topic.events} == {"keycloak/acme"}


async def test_every_event_arrives_through_a_topic_restart(tmp_path, topic):
    destination = {"kind": "azure-eventgrid", "endpoint": topic.url, "access-key": topic.key, "timeout-seconds": 2}
    report = await run_through_an_outage(tmp_path, destination, received=topic.ids, stop=topic.stop, start=topic.start)
    assert "127.0.0.1" in report.not_ready
    assert sorted(topic.ids()) == sorted(event["id"] for event in report.sent)
    assert "route out: 20 matched, 20 delivered, 0 failed" in report.log
