"""``kete run`` with a file of events and the websocket sink, against a real server that is stopped
and started again in the middle of the run."""

from __future__ import annotations

import pytest

from kete_core.testing.outage import run_through_an_outage

pytestmark = pytest.mark.websocket


async def test_every_event_arrives_at_its_url_through_a_server_restart(tmp_path, server):
    destination = {
        "kind": "websocket",
        "url": f"{server.url}/events/${{realmLowerCase}}",
        "headers": {"X-Team": "identity"},
        "connection-timeout-seconds": 2,
    }
    report = await run_through_an_outage(
        tmp_path,
        destination,
        received=lambda: [frame.json()["id"] for frame in server.frames],
        stop=server.stop,
        start=server.start,
    )
    assert "127.0.0.1" in report.not_ready  # /ready says why: the connection to the server
    by_id = {frame.json()["id"]: frame for frame in server.frames}
    for event in report.sent:
        frame = by_id[event["id"]]
        assert frame.path == "/events/" + event["realmName"].lower().replace(" ", "%20")
        assert frame.headers["X-Team"] == "identity"
        assert frame.json()["realmName"] == event["realmName"] and frame.json()["type"] == "LOGIN"
    assert len(server.handshakes) >= 4  # two URLs, connected again after the restart
    assert "route out: 20 matched, 20 delivered, 0 failed" in report.log
