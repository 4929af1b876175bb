"""The poller's position in each realm's event streams, kept in kete's spool as the source checkpoint.

One blob holds every stream (``events`` and ``admin-events`` of each realm): the time of the newest
event read, and the keys of the events read in the trailing settle-lag window with how often each
was read. ``intake.submit`` writes the blob in the same SQLite transaction as the events it
accompanies, so the position never runs ahead of what kete has accepted.

An event's key is its ``id`` (Keycloak 26.2+), otherwise a hash of its whole content. Counting
keys, not just remembering them, keeps events that are identical in every field apart (two failed
logins of one user from one address in one millisecond) when the server gives no ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

VERSION = 1


def content_key(data: dict[str, Any]) -> str:
    """``#`` and a hash of the event's fields except ``id`` (the same for every read of one event)."""
    fields = {key: value for key, value in data.items() if key != "id"}
    return "#" + hashlib.blake2b(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS), digest_size=12).hexdigest()


def event_key(data: dict[str, Any]) -> str:
    """The key that identifies one stored event across reads."""
    ident = data.get("id")
    return ident if isinstance(ident, str) and ident else content_key(data)


def event_time(data: dict[str, Any]) -> int:
    """The event's ``time`` in epoch ms (0 when missing, so that it sorts first)."""
    value = data.get("time")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass
class StreamState:
    """Where one stream stands.

    :ivar time: the newest event time read (epoch ms), or None before anything was read and no
        start time was set.
    :ivar seen: key → ``[time, count]`` of the events read at or after ``time - settle lag``.
    """

    time: int | None = None
    seen: dict[str, list[int]] = field(default_factory=dict)
    content_keys: bool = field(default=False, compare=False)
    """Whether some keys are content hashes (events read without ids)."""

    def __post_init__(self) -> None:
        self.content_keys = any(key.startswith("#") for key in self.seen)

    def count(self, key: str) -> int:
        """How often the event with *key* was read in the window."""
        entry = self.seen.get(key)
        return entry[1] if entry else 0

    def knows(self, data: dict[str, Any]) -> bool:
        """True when this event (by id, or by content for positions written without ids) was read."""
        if event_key(data) in self.seen:
            return True
        # A position written by the legacy mode holds content keys; after an upgrade to 26.2 the
        # same events come back with ids.
        return self.content_keys and "id" in data and content_key(data) in self.seen

    def record(self, data: dict[str, Any]) -> None:
        """Count one read of this event and move ``time`` forward to it."""
        key = event_key(data)
        at = event_time(data)
        entry = self.seen.get(key)
        if entry is None:
            self.seen[key] = [at, 1]
            self.content_keys = self.content_keys or key.startswith("#")
        else:
            entry[1] += 1
        if self.time is None or at > self.time:
            self.time = at

    def expected(self, since: int) -> bool:
        """True when events read before are still expected at or after *since* (for gap checks)."""
        return any(at >= since for at, _ in self.seen.values())

    def prune(self, lag_ms: int, limit: int) -> int:
        """Forget keys older than the window, and the oldest beyond *limit*; return how many beyond."""
        if self.time is None:
            return 0
        floor = self.time - lag_ms
        self.seen = {key: entry for key, entry in self.seen.items() if entry[0] >= floor}
        excess = len(self.seen) - limit
        if excess > 0:
            kept = sorted(self.seen.items(), key=lambda item: item[1][0])[excess:]
            self.seen = dict(kept)
        return max(0, excess)

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "seen": self.seen}

    @classmethod
    def from_json(cls, data: Any) -> StreamState:
        if not isinstance(data, dict):
            return cls()
        time = data.get("time")
        seen = data.get("seen") or {}
        return cls(
            time if isinstance(time, int) else None,
            {str(key): [int(value[0]), int(value[1])] for key, value in seen.items()},
        )


@dataclass
class PollerState:
    """Every stream's state, by realm name and stream (``events`` / ``admin-events``).

    :ivar mode: the API mode used when the blob was written (``ids`` or ``legacy``), informational.
    """

    streams: dict[str, dict[str, StreamState]] = field(default_factory=dict)
    mode: str | None = None

    def get(self, realm: str, stream: str) -> StreamState | None:
        """The state of one stream, or None when it was never read."""
        return self.streams.get(realm, {}).get(stream)

    def put(self, realm: str, stream: str, state: StreamState) -> None:
        self.streams.setdefault(realm, {})[stream] = state

    def keep_only(self, realms: Iterable[str]) -> None:
        """Forget realms that no longer exist."""
        wanted = set(realms)
        self.streams = {name: streams for name, streams in self.streams.items() if name in wanted}

    def encode(self) -> bytes:
        """The checkpoint blob."""
        body = {
            "version": VERSION,
            "mode": self.mode,
            "streams": {
                realm: {stream: state.to_json() for stream, state in streams.items()}
                for realm, streams in self.streams.items()
            },
        }
        return orjson.dumps(body)

    @classmethod
    def decode(cls, blob: bytes | None) -> PollerState | None:
        """The state in a checkpoint blob; None for no blob. Raises ``ValueError`` for a foreign one."""
        if not blob:
            return None
        try:
            data = orjson.loads(blob)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"the saved position is not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError("the saved position was written by another source kind or version")
        streams = {
            str(realm): {str(stream): StreamState.from_json(state) for stream, state in (value or {}).items()}
            for realm, value in (data.get("streams") or {}).items()
        }
        return cls(streams, data.get("mode"))
