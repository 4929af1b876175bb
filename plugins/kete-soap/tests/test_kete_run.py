"""``kete run`` on events from a file, delivering to a real SOAP endpoint: a KETE configuration as it is,
a fault that fails one event, and an endpoint that goes away mid-run."""

from __future__ import annotations

import asyncio
import json

import orjson
import pytest

from kete_core.testing import KeteProcess, admin_event, read_jsonl, run_kete, user_event, write_jsonl
from kete_core.testing.services import free_ports
from tests.services.waiting import dead_lettered, readiness, until

pytestmark = pytest.mark.soap


async def test_a_kete_properties_configuration_runs_unchanged(tmp_path, start_server):
    server = await start_server(version="1.2", action="urn:ProcessEvent", basic="keycloak:secret")
    server.decide = lambda envelope: (True, "e7 is not wanted") if b'"e7"' in envelope.payload else None
    events = [admin_event(n) if n % 4 == 0 else user_event(n) for n in range(1, 21)]
    write_jsonl(tmp_path / "events.jsonl", events)
    config = tmp_path / "kete.properties"
    config.write_text(
        f"kete.data-dir={tmp_path / 'data'}\n"
        "kete.sources.replay.kind=file\n"
        f"kete.sources.replay.path={tmp_path / 'events.jsonl'}\n"
        # KETE's "SOAP 1.2 with authentication" example, pointed at the test's endpoint.
        "kete.routes.secure.destination.kind=soap\n"
        f"kete.routes.secure.destination.url={server.url}/SecureEventService/${{realmLowerCase}}\n"
        "kete.routes.secure.destination.soap-version=1.2\n"
        "kete.routes.secure.destination.soap-action=urn:ProcessEvent\n"
        "kete.routes.secure.destination.authentication-type=basic\n"
        "kete.routes.secure.destination.basic-username=keycloak\n"
        "kete.routes.secure.destination.basic-password=secret\n"
        "kete.routes.secure.destination.headers.X-Source=keycloak\n"
        "kete.routes.secure.retry.max-attempts=1\n"
    )
    result = await asyncio.to_thread(run_kete, "run", str(config))
    log = result.stdout + result.stderr
    assert "route secure: 20 matched, 19 delivered, 1 failed" in log, log
    assert sorted(orjson.loads(e.payload)["id"] for e in server.received) == sorted(
        event["id"] for event in events if event["id"] != "e7"
    )
    for envelope in server.received:
        kind = "ADMIN_EVENT" if orjson.loads(envelope.payload)["id"].startswith("a") else "EVENT"
        assert envelope.path == "/SecureEventService/acme"
        assert envelope.headers["x-eventkind"] == kind and envelope.headers["X-Source"] == "keycloak"
    [refused] = read_jsonl(tmp_path / "data" / "dead-letters" / "secure.jsonl")
    assert "SOAP fault Sender: e7 is not wanted" in json.dumps(refused)


async def test_an_endpoint_restarted_mid_run_loses_nothing(tmp_path, start_server):
    server = await start_server()
    (metrics,) = free_ports(1)
    events = tmp_path / "events.jsonl"
    write_jsonl(events, [user_event(n) for n in range(10)])
    config = tmp_path / "kete.toml"
    config.write_text(
        f'[kete]\ndata-dir = "{tmp_path / "data"}"\nmetrics.enabled = true\nmetrics.address = "127.0.0.1:{metrics}"\n'
        f'[sources.replay]\nkind = "file"\npath = "{events}"\nfollow = true\npoll-interval = "50ms"\n'
        f'[routes.soap]\nretry.max-wait-duration = "500ms"\n'
        f'destination.kind = "soap"\ndestination.url = "{server.url}/events"\ndestination.timeout-seconds = 2\n'
    )
    kete = KeteProcess("run", str(config), cwd=tmp_path)
    try:
        await until(lambda: len(server.received) == 10, what="the first 10 events")
        await server.stop()
        with events.open("ab") as handle:
            handle.write(b"".join(orjson.dumps(user_event(n)) + b"\n" for n in range(10, 20)))
        reason = (await readiness(metrics, ready=False))["not_ready"]["route soap"]
        assert "Connect" in reason and str(server.port) in reason, reason
        restarted = await start_server(port=server.port)
        await until(lambda: len(restarted.received) >= 10, what="delivery after the restart")
        await readiness(metrics, ready=True)
        assert await dead_lettered(metrics) == 0
    finally:
        code = await asyncio.to_thread(kete.stop)
    assert code == 0, kete.log
    ids = [orjson.loads(envelope.payload)["id"] for envelope in (*server.received, *restarted.received)]
    assert sorted(ids) == sorted(f"e{n}" for n in range(20)), "lost or repeated"
    assert not (tmp_path / "data" / "dead-letters").exists()
