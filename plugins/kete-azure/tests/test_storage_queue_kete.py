"""``kete run`` with the azure-storage-queue sink: a KETE ``.properties`` configuration runs unchanged,
and Azurite stopped and started again in the middle of a run loses nothing."""

from __future__ import annotations

import asyncio
import gzip

import orjson
import pytest
from azure.core.exceptions import ServiceRequestError

from kete_core.testing import run_kete, user_event
from kete_core.testing.outage import run_through_an_outage

pytestmark = pytest.mark.azure


async def test_kete_properties_run_unchanged(tmp_path, azurite, queues):
    queue = queues.make("keycloak-events")
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(user_event(n)) + b"\n" for n in range(1, 11)))
    config = tmp_path / "kete.properties"
    config.write_text(
        f"kete.data-dir={tmp_path / 'state'}\n"
        f"kete.sources.replay.kind=file\nkete.sources.replay.path={events}\n"
        "kete.routes.queue.destination.kind=azure-storage-queue\n"
        f"kete.routes.queue.destination.connection-string={azurite.connection_string}\n"
        f"kete.routes.queue.destination.queue={queue}\n"
        "kete.routes.queue.destination.message-ttl=3600\n"
        "kete.routes.queue.destination.timeout-seconds=15\n"
        "kete.routes.queue.destination.content-encoding=gzip\n"
        "kete.routes.queue.destination.pool.max-total=10\n"
    )
    result = await asyncio.to_thread(run_kete, "run", str(config))
    assert result.returncode == 0, result.stderr
    ids = [orjson.loads(gzip.decompress(payload))["id"] for payload in queues.payloads(queue)]
    assert ids == [f"e{n}" for n in range(1, 11)]


async def test_every_event_arrives_through_an_emulator_restart(tmp_path, azurite, queues):
    suffix = queues.make("login")[len("login-") :]
    destination = {
        "kind": "azure-storage-queue",
        "connection-string": azurite.connection_string,
        "queue": f"${{eventTypeLowerCase}}-{suffix}",
        "timeout-seconds": 2,
    }

    def received() -> list[str]:
        if not azurite.service.is_running():
            return []
        try:
            return [orjson.loads(payload)["id"] for name in queues.made for payload in queues.payloads(name)]
        except ServiceRequestError:  # stopped between the check and the read
            return []

    report = await run_through_an_outage(
        tmp_path,
        destination,
        received=received,
        stop=lambda: asyncio.to_thread(azurite.stop),
        start=lambda: asyncio.to_thread(azurite.start),
    )
    assert "127.0.0.1" in report.not_ready
    assert sorted(received()) == sorted(event["id"] for event in report.sent)  # each once
    assert "route out: 20 matched, 20 delivered, 0 failed" in report.log
