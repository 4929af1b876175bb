"""``kete run`` with a file of events and the signalr sink, against a SignalR hub on aiohttp that is
stopped and started again in the middle of the run."""

from __future__ import annotations

import pytest

from kete_core.testing.outage import run_through_an_outage

pytestmark = pytest.mark.websocket


async def test_every_event_invokes_its_method_through_a_hub_restart(tmp_path, hub):
    destination = {
        "kind": "signalr",
        "url": hub.url,
        "hub-method": "Send${realmPascalCase}",
        "access-token": "t0ken",
        "timeout-seconds": 2,
    }
    report = await run_through_an_outage(tmp_path, destination, received=hub.ids, stop=hub.stop, start=hub.start)
    assert "127.0.0.1" in report.not_ready
    by_id = {call.json()["id"]: call for call in hub.invocations}
    for event in report.sent:
        call = by_id[event["id"]]
        assert call.target == {"acme": "SendAcme", "Partner Portal": "SendPartner portal"}[event["realmName"]]
        assert call.headers["Authorization"] == "Bearer t0ken"
        assert call.json()["realmName"] == event["realmName"]
    assert "route out: 20 matched, 20 delivered, 0 failed" in report.log
