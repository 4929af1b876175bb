"""``kete run`` on events from a file, delivering to a real SOAP endpoint: a KETE configuration as it is,
a fault that fails one event, and an endpoint that goes away mid-run."""

from __future__ import annotations

import asyncio
import json

import orjson
import pytest

from kete_core.testing import admin_event, read_jsonl, replay_properties, run_kete, user_event, write_jsonl
from kete_core.testing.outage import run_through_an_outage

pytestmark = pytest.mark.soap


async def test_a_kete_properties_configuration_runs_unchanged(tmp_path, start_server):
    server = await start_server(version="1.2", action="urn:ProcessEvent", basic="keycloak:secret")
    server.decide = lambda envelope: (True, "e7 is not wanted") if b'"e7"' in envelope.payload else None
    events = [admin_event(n) if n % 4 == 0 else user_event(n) for n in range(1, 21)]
    write_jsonl(tmp_path / "events.jsonl", events)
    config = replay_properties(
        tmp_path,
        # KETE's "SOAP 1.2 with authentication" example, pointed at the test's endpoint.
        "kete.routes.secure.destination.kind=soap\n"
        f"kete.routes.secure.destination.url={server.url}/SecureEventService/${{realmLowerCase}}\n"
        "kete.routes.secure.destination.soap-version=1.2\n"
        "kete.routes.secure.destination.soap-action=urn:ProcessEvent\n"
        "kete.routes.secure.destination.authentication-type=basic\n"
        "kete.routes.secure.destination.basic-username=keycloak\n"
        "kete.routes.secure.destination.basic-password=secret\n"
        "kete.routes.secure.destination.headers.X-Source=keycloak\n"
        "kete.routes.secure.retry.max-attempts=1\n",
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
    servers = [await start_server()]
    port = servers[0].port

    async def restart() -> None:
        servers.append(await start_server(port=port))

    def received() -> list[str]:
        return [orjson.loads(envelope.payload)["id"] for server in servers for envelope in server.received]

    destination = {"kind": "soap", "url": f"{servers[0].url}/events", "timeout-seconds": 2}
    report = await run_through_an_outage(tmp_path, destination, received=received, stop=servers[0].stop, start=restart)
    assert "Connect" in report.not_ready and str(port) in report.not_ready, report.not_ready
    assert sorted(received()) == sorted(event["id"] for event in report.sent), "lost or repeated"
