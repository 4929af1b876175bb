"""A KETE ``.properties`` configuration of the websocket destination (the keys of KETE's user guide,
pool settings included) runs unchanged with ``kete run`` against a real server."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from kete_core.testing import replay_properties, run_kete, user_event

pytestmark = pytest.mark.websocket


async def test_kete_properties_run_unchanged(tmp_path, start_server, token_endpoint):
    server = await start_server(require={"Authorization": "Bearer token-1", "X-API-Key": "my-api-key"})
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(user_event(n)) + b"\n" for n in range(1, 11)))
    config = replay_properties(
        tmp_path,
        "kete.routes.ws-binary.realm-matchers.realm=list:acme\n"
        "kete.routes.ws-binary.destination.kind=websocket\n"
        "kete.routes.ws-binary.destination.host=127.0.0.1\n"
        f"kete.routes.ws-binary.destination.port={server.port}\n"
        "kete.routes.ws-binary.destination.path=/binary/${realmLowerCase}\n"
        "kete.routes.ws-binary.destination.binary-mode=true\n"
        "kete.routes.ws-binary.destination.subprotocol=graphql-ws,mqtt\n"
        "kete.routes.ws-binary.destination.connection-timeout-seconds=5\n"
        "kete.routes.ws-binary.destination.connection-lost-timeout-seconds=120\n"
        "kete.routes.ws-binary.destination.headers.X-API-Key=my-api-key\n"
        "kete.routes.ws-binary.destination.oauth.enabled=true\n"
        f"kete.routes.ws-binary.destination.oauth.token-url={token_endpoint.url}\n"
        "kete.routes.ws-binary.destination.oauth.client-id=kete\n"
        "kete.routes.ws-binary.destination.oauth.client-secret=s3cret\n"
        "kete.routes.ws-binary.destination.oauth.scope=events:write\n"
        "kete.routes.ws-binary.destination.pool.max-total=20\n",
    )
    result = await asyncio.to_thread(run_kete, "run", str(config))
    assert result.returncode == 0, result.stderr
    assert sorted(frame.json()["id"] for frame in server.frames) == sorted(f"e{n}" for n in range(1, 11))
    assert {frame.path for frame in server.frames} == {"/binary/acme"}
    assert all(isinstance(frame.data, bytes) for frame in server.frames)
