"""``kete run`` on events from a file, delivering to a real grpcio server: a KETE configuration as it is,
statuses that fail one event, and a server that goes away mid-run."""

from __future__ import annotations

import asyncio
import json

import grpc
import orjson
import pytest

from kete_core.testing import admin_event, read_jsonl, replay_properties, run_kete, user_event, write_jsonl
from kete_core.testing.outage import run_through_an_outage

pytestmark = pytest.mark.grpc


async def test_a_kete_properties_configuration_runs_unchanged(tmp_path, server):
    events = [admin_event(n) if n % 4 == 0 else user_event(n, realm=("acme", "master")[n % 2]) for n in range(1, 21)]
    write_jsonl(tmp_path / "events.jsonl", events)
    server.decide = lambda call: (grpc.StatusCode.INVALID_ARGUMENT, "e7 is bad") if b'"e7"' in call.request else None
    config = replay_properties(
        tmp_path,
        # The grpc route as KETE documents it, unchanged.
        "kete.routes.grpc.destination.kind=grpc\n"
        "kete.routes.grpc.destination.host=127.0.0.1\n"
        f"kete.routes.grpc.destination.port={server.port}\n"
        "kete.routes.grpc.destination.service=com.example.EventService\n"
        "kete.routes.grpc.destination.method=SendEvent\n"
        "kete.routes.grpc.destination.use-plaintext=true\n"
        "kete.routes.grpc.destination.headers.x-source=keycloak\n"
        "kete.routes.grpc.destination.pool.max-total=4\n"
        "kete.routes.grpc.retry.max-attempts=1\n"
        # kete's templated method: user events have no resource type, so each fails alone on this route.
        "kete.routes.by-resource.destination.kind=grpc\n"
        "kete.routes.by-resource.destination.host=127.0.0.1\n"
        f"kete.routes.by-resource.destination.port={server.port}\n"
        "kete.routes.by-resource.destination.service=com.example.Audit\n"
        "kete.routes.by-resource.destination.method=On${resourceTypePascalCase}\n"
        "kete.routes.by-resource.destination.use-plaintext=true\n",
    )
    result = await asyncio.to_thread(run_kete, "run", str(config))
    log = result.stdout + result.stderr
    assert "route grpc: 20 matched, 19 delivered, 1 failed" in log, log
    assert "route by-resource: 20 matched, 5 delivered, 15 failed" in log, log
    main = [call for call in server.events if call.method == "/com.example.EventService/SendEvent"]
    [probe] = [call for call in server.calls if call.probe]  # KETE's probe; the templated route has none
    assert (probe.method, probe.request) == ("/com.example.EventService/SendEvent", b"")
    assert sorted(orjson.loads(call.request)["id"] for call in main) == sorted(event["id"] for event in events)
    for call in main:
        body = orjson.loads(call.request)
        assert call.metadata["eventkind"] == ("ADMIN_EVENT" if body["id"].startswith("a") else "EVENT")
        assert call.metadata["eventtype"] == ("USER_CREATE" if body["id"].startswith("a") else "LOGIN")
        assert call.metadata["contenttype"] == "application/json"
        assert call.metadata["x-source"] == "keycloak"
    audit = [call for call in server.events if call.method.startswith("/com.example.Audit/")]
    assert {call.method for call in audit} == {"/com.example.Audit/OnUser"} and len(audit) == 5
    [refused] = read_jsonl(tmp_path / "data" / "dead-letters" / "grpc.jsonl")
    assert "INVALID_ARGUMENT: e7 is bad" in json.dumps(refused)
    unresolved = read_jsonl(tmp_path / "data" / "dead-letters" / "by-resource.jsonl")
    assert len(unresolved) == 15 and "resourceType" in json.dumps(unresolved[0])


async def test_a_server_restarted_mid_run_loses_nothing(tmp_path, start_server):
    servers = [await start_server()]
    port = servers[0].port

    async def restart() -> None:
        servers.append(await start_server(port=port))

    def received() -> list[str]:
        return [orjson.loads(call.request)["id"] for server in servers for call in server.events]

    destination = {"kind": "grpc", "host": "127.0.0.1", "port": port, "service": "kete.Events", "method": "Send",
                   "use-plaintext": True, "timeout-seconds": 2}  # fmt: skip
    report = await run_through_an_outage(tmp_path, destination, received=received, stop=servers[0].stop, start=restart)
    assert "gRPC UNAVAILABLE" in report.not_ready and "Connection refused" in report.not_ready, report.not_ready
    assert sorted(received()) == sorted(event["id"] for event in report.sent), "lost or repeated"


async def test_ketes_mutual_tls_example_runs_unchanged(tmp_path, start_server, server_tls, pki):
    server = await start_server(server_tls(require_client=True))
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(1, 6)])
    key_store = pki.write("client.p12", pki.store_bytes("pkcs12", key=True, password="changeit"))
    config = replay_properties(
        tmp_path,
        # KETE's "mTLS with custom metadata" example, pointed at the test's server and certificates.
        "kete.routes.events.destination.kind=grpc\n"
        "kete.routes.events.destination.host=127.0.0.1\n"
        f"kete.routes.events.destination.port={server.port}\n"
        "kete.routes.events.destination.service=EventService\n"
        "kete.routes.events.destination.method=SendEvent\n"
        "kete.routes.events.destination.headers.x-tenant=keycloak\n"
        "kete.routes.events.destination.tls.enabled=true\n"
        "kete.routes.events.destination.tls.trust-store.loader.kind=pem-file-path\n"
        f"kete.routes.events.destination.tls.trust-store.loader.path={pki.ca_file}\n"
        "kete.routes.events.destination.tls.key-store.loader.kind=pkcs12-file-path\n"
        f"kete.routes.events.destination.tls.key-store.loader.path={key_store}\n"
        "kete.routes.events.destination.tls.key-store.password=changeit\n",
    )
    result = await asyncio.to_thread(run_kete, "run", str(config))
    assert "route events: 5 matched, 5 delivered, 0 failed" in result.stderr + result.stdout, result.stderr
    assert [call.metadata["x-tenant"] for call in server.events] == ["keycloak"] * 5
