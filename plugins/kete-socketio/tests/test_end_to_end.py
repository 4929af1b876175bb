"""``kete run`` with a file of events and the socketio sink, against a real python-socketio server
that is stopped and started again in the middle of the run."""

from __future__ import annotations

import pytest

from kete_core.testing.outage import run_through_an_outage

pytestmark = pytest.mark.websocket


async def test_every_event_arrives_under_its_name_through_a_server_restart(tmp_path, start_server):
    server = await start_server(namespace="/keycloak")
    destination = {
        "kind": "socketio",
        "url": server.url,
        "namespace": "/keycloak",
        "event-name": "keycloak-${realmKebabCase}",
        "headers": {"X-Team": "identity"},
        "timeout-seconds": 2,
    }
    report = await run_through_an_outage(
        tmp_path, destination, received=server.ids, stop=server.stop, start=server.start
    )
    assert "127.0.0.1" in report.not_ready
    by_id = {item.data["id"]: item for item in server.received}
    for event in report.sent:
        item = by_id[event["id"]]
        assert item.name == "keycloak-" + event["realmName"].lower()  # KebabCase keeps spaces, as Guava
        assert item.namespace == "/keycloak" and item.headers["X-Team"] == "identity"
        assert item.data["realmName"] == event["realmName"]
    assert "route out: 20 matched, 20 delivered, 0 failed" in report.log
