"""A KETE ``.properties`` configuration of the socketio destination (the keys of KETE's user guide,
pool settings included) runs unchanged with ``kete run`` against a real python-socketio server."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from kete_core.testing import replay_properties, run_kete, user_event

pytestmark = pytest.mark.websocket


async def test_kete_properties_run_unchanged(tmp_path, start_server, token_endpoint):
    server = await start_server(namespace="/admin", path="ws", require={"Authorization": "Bearer token-1"})
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(user_event(n)) + b"\n" for n in range(1, 11)))
    config = replay_properties(
        tmp_path,
        "kete.routes.dashboard.destination.kind=socketio\n"
        f"kete.routes.dashboard.destination.url={server.url}\n"
        "kete.routes.dashboard.destination.event-name=keycloak-${eventTypeLowerCase}\n"
        "kete.routes.dashboard.destination.namespace=/admin\n"
        "kete.routes.dashboard.destination.path=/ws/\n"
        "kete.routes.dashboard.destination.timeout-seconds=30\n"
        "kete.routes.dashboard.destination.headers.X-Custom-Header=value\n"
        "kete.routes.dashboard.destination.oauth.enabled=true\n"
        f"kete.routes.dashboard.destination.oauth.token-url={token_endpoint.url}\n"
        "kete.routes.dashboard.destination.oauth.client-id=kete\n"
        "kete.routes.dashboard.destination.oauth.client-secret=s3cret\n"
        "kete.routes.dashboard.destination.pool.min-idle=5\n"
        "kete.routes.dashboard.destination.pool.max-idle=15\n"
        "kete.routes.dashboard.destination.pool.max-total=30\n",
    )
    result = await asyncio.to_thread(run_kete, "run", str(config))
    assert result.returncode == 0, result.stderr
    assert sorted(server.ids()) == sorted(f"e{n}" for n in range(1, 11))
    assert {item.name for item in server.received} == {"keycloak-login"}
    assert server.received[0].headers["X-Custom-Header"] == "value"
