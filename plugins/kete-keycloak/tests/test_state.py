"""The poller's checkpoint: keys, counting, the settle-lag window and the blob."""

from __future__ import annotations

import pytest
from kete_keycloak.state import PollerState, StreamState, content_key, event_key


def test_keys():
    assert event_key({"id": "e1", "time": 1, "type": "LOGIN"}) == "e1"
    legacy = {"time": 1, "type": "LOGIN", "details": {"b": "1", "a": "2"}}
    assert event_key(legacy).startswith("#")
    # The content key ignores the id and the order of keys, so one event read twice has one key.
    assert content_key({**legacy, "id": "e1"}) == event_key(legacy)
    assert event_key({"details": {"a": "2", "b": "1"}, "type": "LOGIN", "time": 1}) == event_key(legacy)
    assert event_key({**legacy, "time": 2}) != event_key(legacy)


def test_counting_the_window_and_pruning():
    state = StreamState()
    twin = {"time": 1000, "type": "LOGIN_ERROR", "userId": "u"}
    state.record(twin)
    state.record(twin)
    assert state.count(event_key(twin)) == 2 and state.time == 1000
    state.record({"id": "late", "time": 900})
    assert state.time == 1000  # an older event does not move the position back
    state.record({"id": "new", "time": 5000})
    assert state.prune(lag_ms=1000, limit=100) == 0
    assert set(state.seen) == {"new"}
    for number in range(5):
        state.record({"id": f"x{number}", "time": 5000 + number})
    assert state.prune(lag_ms=1000, limit=3) == 3
    assert set(state.seen) == {"x2", "x3", "x4"}


def test_a_legacy_position_recognises_the_same_events_with_ids():
    state = StreamState()
    event = {"time": 1000, "type": "LOGIN", "userId": "u"}
    state.record(event)
    restored = StreamState.from_json(StreamState.to_json(state))
    assert restored.knows({**event, "id": "after-upgrade"})
    assert not restored.knows({**event, "id": "other", "userId": "v"})


def test_blob_round_trip_and_foreign_blobs():
    state = PollerState(mode="ids")
    state.put("acme", "events", StreamState(7, {"e1": [7, 1]}))
    state.put("acme", "admin-events", StreamState(None))
    again = PollerState.decode(state.encode())
    assert again == state
    assert PollerState.decode(None) is None
    with pytest.raises(ValueError, match="another source"):
        PollerState.decode(b'{"device": 1, "inode": 2, "offset": 3, "line": 4}')
    with pytest.raises(ValueError, match="not JSON"):
        PollerState.decode(b"\x00")
    again.keep_only(["other"])
    assert again.streams == {}
