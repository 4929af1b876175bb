"""Dead letters: events a route gave up on, kept as JSON lines with the reason.

``<data-dir>/dead-letters/<route>.jsonl`` holds one record per event: the route, the error, the
number of attempts, when the first and the last attempt happened, and the event as received
(with the realm name kete knew). ``kete dlq list`` shows them and ``kete dlq replay`` hands them
back to their route.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kete_core.contracts import Message
from kete_core.display import redact
from kete_core.event import Event


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered event."""

    route: str
    error: str
    attempts: int
    first_attempt: float
    last_attempt: float
    event: dict[str, Any]
    realm_name: str | None

    def to_event(self) -> Event:
        """The event again, with the realm name it had."""
        names = {self.event.get("realmId") or "": self.realm_name} if self.realm_name else {}
        return Event(self.event, names)


def _file(directory: Path, route: str) -> Path:
    return directory / f"{route}.jsonl"


def write(
    directory: Path, route: str, messages: Sequence[Message], error: BaseException, attempts: int, first: float
) -> None:
    """Append *messages* as dead letters of *route* and fsync them."""
    directory.mkdir(parents=True, exist_ok=True)
    now = time.time()
    reason = redact(f"{type(error).__name__}: {error}")
    lines = b"".join(
        orjson.dumps(
            {
                "route": route,
                "error": reason,
                "attempts": attempts,
                "firstAttempt": first,
                "lastAttempt": now,
                "realmName": message.event.realm_name,
                "event": message.event.data,
            }
        )
        + b"\n"
        for message in messages
    )
    fd = os.open(_file(directory, route), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, lines)
        os.fsync(fd)
    finally:
        os.close(fd)


def read(directory: Path, route: str | None = None) -> Iterator[DeadLetter]:
    """The dead letters of *route* (of every route when None), oldest first per route."""
    files = [_file(directory, route)] if route else sorted(directory.glob("*.jsonl"))
    for path in files:
        if not path.exists():
            continue
        for line in path.read_bytes().splitlines():
            if line.strip():
                record = orjson.loads(line)
                yield DeadLetter(
                    route=record["route"],
                    error=record["error"],
                    attempts=record["attempts"],
                    first_attempt=record["firstAttempt"],
                    last_attempt=record["lastAttempt"],
                    event=record["event"],
                    realm_name=record.get("realmName"),
                )


def archive(directory: Path, route: str) -> Path | None:
    """Move *route*'s dead letters aside once replayed; return where they went."""
    path = _file(directory, route)
    if not path.exists():
        return None
    target = directory / "replayed" / f"{route}-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9}.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    path.replace(target)
    return target
