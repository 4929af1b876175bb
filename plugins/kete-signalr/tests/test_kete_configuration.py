"""A KETE ``.properties`` configuration of the signalr destination (the keys of KETE's user guide,
pool settings included) runs unchanged with ``kete run`` against a SignalR hub on aiohttp."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from kete_core.testing import replay_properties, run_kete, user_event

pytestmark = pytest.mark.websocket


async def test_kete_properties_run_unchanged(tmp_path, start_hub):
    hub = await start_hub(require={"Authorization": "Bearer eyJhbGciOiJIUzI1NiIs", "X-Tenant-Id": "tenant-123"})
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(user_event(n)) + b"\n" for n in range(1, 11)))
    config = replay_properties(
        tmp_path,
        "kete.routes.azure.destination.kind=signalr\n"
        f"kete.routes.azure.destination.url={hub.url}\n"
        "kete.routes.azure.destination.access-token=eyJhbGciOiJIUzI1NiIs\n"
        "kete.routes.azure.destination.hub-method=BroadcastEvent\n"
        "kete.routes.azure.destination.timeout-seconds=15\n"
        "kete.routes.azure.destination.headers.X-Tenant-Id=tenant-123\n"
        "kete.routes.azure.destination.pool.max-total=50\n"
        "kete.routes.default.destination.kind=signalr\n"
        f"kete.routes.default.destination.url={hub.url}\n"
        "kete.routes.default.destination.access-token=eyJhbGciOiJIUzI1NiIs\n"
        "kete.routes.default.destination.headers.X-Tenant-Id=tenant-123\n",
    )
    result = await asyncio.to_thread(run_kete, "run", str(config))
    assert result.returncode == 0, result.stderr
    by_method = {
        method: sorted(c.json()["id"] for c in hub.invocations if c.target == method)
        for method in ("BroadcastEvent", "SendEvent")
    }
    assert by_method == {method: sorted(f"e{n}" for n in range(1, 11)) for method in ("BroadcastEvent", "SendEvent")}
