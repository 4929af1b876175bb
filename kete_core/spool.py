"""The durable spool: every accepted event, kept until each route that matched it is done with it.

Each submitted batch is one JSON array of its events, each with a bit mask of the routes that
matched it. The array is appended to a segment file (``<data-dir>/segments/<first seq>.seg``) and
indexed by a row in SQLite (WAL mode), one transaction per batch; a source's checkpoint is written
in the same transaction, so handing events to kete and moving the source on happen together or not
at all. (Rows per event, then batch blobs inside SQLite, made SQLite the bottleneck.) Routes deliver
in order, so a route's progress is one number, its *done* mark: every event up to that sequence
number that the route matched was delivered or dead-lettered. Restarting re-delivers, per route,
the matched events after its mark; rows below every route's mark are deleted, and a segment file
once no row points into it.
"""

from __future__ import annotations

import bisect
import fcntl
import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import Sequence
from functools import reduce
from operator import attrgetter, itemgetter, or_
from pathlib import Path
from typing import Any, Literal, TypedDict

import orjson

from kete_core.contracts import Rejection
from kete_core.errors import KeteError
from kete_core.event import Event

log = logging.getLogger("kete")

MAX_ROUTES = 62
# What a spooled event keeps besides its data: the realm names it was routed with.
_REALM_NAME, _AUTH_REALM_NAME, _DATA = attrgetter("realm_name"), attrgetter("auth_realm_name"), attrgetter("data")
_SEQ = itemgetter(0)  # of a memory spool row

# A new segment file is started once the current one is this large.
_SEGMENT_SIZE = 64 << 20

# A batch is in its segment file; ``body`` is always written empty.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    routes INTEGER NOT NULL,
    count INTEGER NOT NULL,
    accepted REAL NOT NULL,
    body BLOB NOT NULL,
    segment INTEGER,
    offset INTEGER,
    length INTEGER
);
CREATE TABLE IF NOT EXISTS routes (name TEXT PRIMARY KEY, bit INTEGER NOT NULL UNIQUE, done INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (source TEXT PRIMARY KEY, position BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, source TEXT NOT NULL, place TEXT NOT NULL, reason TEXT NOT NULL,
    raw BLOB
);
"""


class RejectedRecord(TypedDict):
    """A kept record that was not an event: when (epoch seconds), which source, where in its
    input, why, and the start of the record."""

    at: float
    source: str
    where: str
    reason: str
    raw: bytes | None


def _lock(directory: Path) -> int:
    """Hold ``directory/lock`` for as long as this process uses the spool; one kete per data dir."""
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise KeteError(
            "another kete process is using this data directory",
            path=str(directory),
            hint="stop it first, or give this run its own [kete] data-dir (KETE_DATA_DIR)",
        ) from None
    return fd


def _fsync_directory(directory: Path) -> None:
    """Make a new file's name in *directory* survive a power loss."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stored_event(row: list[Any]) -> Event:
    """The event of a stored batch's *row*: ``[mask, realm name, admin's realm name, data]``. Its
    realm names are the ones it was routed with: a name the event carries, else the one its source
    knew."""
    _, realm_name, auth_realm_name, data = row
    names = {}
    if realm_name and not data.get("realmName") and data.get("realmId"):
        names[data["realmId"]] = realm_name
    auth = data.get("authDetails")
    if auth_realm_name and auth and not auth.get("realmName") and auth.get("realmId"):
        names[auth["realmId"]] = auth_realm_name
    return Event(data, names)


class Spool:
    """The spool file of one configuration; see the module documentation.

    :param path: the SQLite file.
    :param routes: the names of the configured routes; new ones get a bit, and start after
        everything already spooled.
    :param synchronous: ``normal`` survives a crash of kete; ``full`` also a power loss.
    """

    def __init__(self, path: Path, routes: Sequence[str], *, synchronous: Literal["normal", "full"] = "normal") -> None:
        if len(routes) > MAX_ROUTES:
            raise KeteError(f"the spool supports at most {MAX_ROUTES} routes, not {len(routes)}")
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock: int | None = _lock(path.parent)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self.db.executescript(_SCHEMA)
        self._full = synchronous == "full"
        self.segments = path.parent / "segments"
        self.segments.mkdir(exist_ok=True)
        self._writing: tuple[int, int] | None = None  # (segment, file descriptor)
        # Compaction may have emptied the table; the routes' marks remember how far it went.
        highest: int = self.db.execute(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM batches), 0), COALESCE((SELECT MAX(done) FROM routes), 0))"
        ).fetchone()[0]
        self.next_seq = highest + 1
        self.bits = self._register(routes)
        self.done = {name: self._done(name) for name in routes}
        self._saved = dict(self.done)
        self._counts: deque[tuple[int, int]] = deque(
            self.db.execute("SELECT seq, count FROM batches WHERE seq > ? ORDER BY seq", (self.low_mark,)).fetchall()
        )
        self._pending = sum(count for _, count in self._counts)

    def _register(self, routes: Sequence[str]) -> dict[str, int]:
        known = dict(self.db.execute("SELECT name, bit FROM routes").fetchall())
        free = sorted(set(range(MAX_ROUTES)) - set(known.values()))
        with self.db:
            for name in routes:
                if name not in known:
                    if not free:
                        # Reuse the bit of a route no longer configured; its leftovers are dropped.
                        stale = next(old for old in known if old not in routes)
                        bit = known.pop(stale)
                        self.db.execute("DELETE FROM routes WHERE name = ?", (stale,))
                        self.db.execute("UPDATE batches SET routes = routes & ~? WHERE routes & ?", (1 << bit,) * 2)
                        free.append(bit)
                    known[name] = free.pop(0)
                    self.db.execute(
                        "INSERT INTO routes (name, bit, done) VALUES (?, ?, ?)", (name, known[name], self.next_seq - 1)
                    )
        return {name: known[name] for name in routes}

    def _done(self, route: str) -> int:
        return int(self.db.execute("SELECT done FROM routes WHERE name = ?", (route,)).fetchone()[0])

    def _segment_path(self, segment: int) -> Path:
        return self.segments / f"{segment:020d}.seg"

    def _write(self, seq: int, body: bytes) -> tuple[int, int]:
        """Append *body* to the current segment file (starting one when there is none or it is
        full); return (segment, offset). With ``spool-sync = "full"`` it is on disk on return."""
        # Asked of the file, not counted: a write that failed half-way (a full disk) left bytes.
        offset = os.lseek(self._writing[1], 0, os.SEEK_END) if self._writing is not None else 0
        if self._writing is None or offset >= _SEGMENT_SIZE:
            if self._writing is not None:
                os.close(self._writing[1])
            fd = os.open(self._segment_path(seq), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._writing = (seq, fd)
            if self._full:
                _fsync_directory(self.segments)
            offset = os.lseek(fd, 0, os.SEEK_END)
        segment, fd = self._writing
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view) :]
        if self._full:
            os.fdatasync(fd)
        return segment, offset

    def append(self, events: Sequence[Event], masks: Sequence[int], checkpoint: tuple[str, bytes] | None = None) -> int:
        """Store *events*, each with its route mask in *masks*, and *checkpoint* in one
        transaction; return the sequence number they were stored under."""
        seq = self.next_seq
        if events:
            routes = reduce(or_, set(masks))
            # Rows built at C speed; which names the source supplied is worked out when read back.
            names, auth_names = map(_REALM_NAME, events), map(_AUTH_REALM_NAME, events)
            body = orjson.dumps(list(zip(masks, names, auth_names, map(_DATA, events), strict=True)))
            # The batch is in its segment before the row that points to it is committed: a crash
            # in between leaves unreferenced bytes, never a row without its batch.
            segment, offset = self._write(seq, body)
        with self.db:
            if events:
                self.db.execute(
                    "INSERT INTO batches (seq, routes, count, accepted, body, segment, offset, length)"
                    " VALUES (?, ?, ?, ?, x'', ?, ?, ?)",
                    (seq, routes, len(events), time.time(), segment, offset, len(body)),
                )
            if checkpoint is not None:
                self.db.execute("INSERT OR REPLACE INTO checkpoints (source, position) VALUES (?, ?)", checkpoint)
        if events:
            self.next_seq = seq + 1
            self._counts.append((seq, len(events)))
            self._pending += len(events)
        return seq

    def read(self, route: str, after: int, limit: int) -> list[tuple[int, Event]]:
        """The events *route* matched in the batches after sequence number *after*, in order, whole
        batches at a time until at least *limit* events (fewer at the end of the spool)."""
        bit = 1 << self.bits[route]
        found: list[tuple[int, Event]] = []
        rows = self.db.execute(
            "SELECT seq, segment, offset, length FROM batches WHERE seq > ? AND routes & ? ORDER BY seq", (after, bit)
        )
        for seq, segment, offset, length in rows:
            for row in self._batch(seq, segment, offset, length):
                if row[0] & bit:
                    found.append((seq, _stored_event(row)))
            if len(found) >= limit:
                break
        rows.close()
        return found

    def _batch(self, seq: int, segment: int, offset: int, length: int) -> list[Any]:
        """The stored batch *seq*: the row of each event (see :func:`_stored_event`)."""
        try:
            with self._segment_path(segment).open("rb") as stream:
                stream.seek(offset)
                rows: list[Any] = orjson.loads(stream.read(length))
                return rows
        except (OSError, orjson.JSONDecodeError) as exc:
            # Only a power loss with spool-sync = "normal" (or a damaged disk) gets here.
            log.error("spool: batch %d cannot be read from %s, its events are lost: %s", seq, self.segments, exc)
            return []

    def mark_done(self, route: str, seq: int) -> None:
        """Record, in memory, that *route* is done with every event it matched up to *seq*;
        :meth:`save` makes it durable. A mark lost in a crash only means re-delivery."""
        if seq > self.done[route]:
            self.done[route] = seq

    def save(self) -> None:
        """Store the routes' done marks."""
        changed = [(seq, name) for name, seq in self.done.items() if self._saved.get(name) != seq]
        if changed:
            with self.db:
                self.db.executemany("UPDATE routes SET done = ? WHERE name = ?", changed)
            self._saved.update((name, seq) for seq, name in changed)

    def compact(self) -> None:
        """Store the marks and delete the events every route is done with, and the segment files
        no remaining batch is in."""
        self.save()
        with self.db:
            self.db.execute("DELETE FROM batches WHERE seq <= ?", (self.low_mark,))
        oldest = self.db.execute("SELECT MIN(segment) FROM batches").fetchone()[0]
        live = [segment for segment in (oldest, self._writing and self._writing[0]) if segment is not None]
        keep = min(live, default=None)
        for path in self.segments.glob("*.seg"):
            if path.stem.isdigit() and (keep is None or int(path.stem) < keep):
                path.unlink(missing_ok=True)

    def forget_rejected(self, older_than: float) -> None:
        """Delete rejected records kept longer than *older_than* seconds."""
        with self.db:
            self.db.execute("DELETE FROM rejected WHERE at < ?", (time.time() - older_than,))

    @property
    def low_mark(self) -> int:
        """Every event up to this sequence number is done for every route."""
        return min(self.done.values(), default=self.next_seq - 1)

    @property
    def depth(self) -> int:
        """Spooled events that some route has not finished with."""
        low = self.low_mark
        while self._counts and self._counts[0][0] <= low:
            self._pending -= self._counts.popleft()[1]
        return self._pending

    def oldest_age(self) -> float:
        """Seconds since the oldest event some route has not finished with was accepted (0 if none)."""
        row = self.db.execute("SELECT MIN(accepted) FROM batches WHERE seq > ?", (self.low_mark,)).fetchone()
        return max(0.0, time.time() - row[0]) if row and row[0] else 0.0

    def checkpoint(self, source: str) -> bytes | None:
        """The position *source* stored with its last accepted batch."""
        row = self.db.execute("SELECT position FROM checkpoints WHERE source = ?", (source,)).fetchone()
        return bytes(row[0]) if row else None

    def forget_checkpoints(self) -> None:
        """Forget every source's position: each starts as on its first run (``kete run --from-start``)."""
        with self.db:
            self.db.execute("DELETE FROM checkpoints")

    def reject(self, rejection: Rejection) -> None:
        """Keep a record that was not an event, for the operator."""
        with self.db:
            self.db.execute(
                "INSERT INTO rejected (at, source, place, reason, raw) VALUES (?, ?, ?, ?, ?)",
                (time.time(), rejection.source, rejection.where, rejection.reason, rejection.raw),
            )

    def rejected(self, limit: int = 1000) -> list[RejectedRecord]:
        """The most recent rejected records, newest last."""
        rows = self.db.execute(
            "SELECT at, source, place, reason, raw FROM rejected ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [
            RejectedRecord(at=at, source=source, where=where, reason=reason, raw=raw)
            for at, source, where, reason, raw in reversed(rows)
        ]

    @classmethod
    def reader(cls, path: Path) -> Spool:
        """Open an existing spool file only to read records (``kete rejected``), without the lock."""
        spool = cls.__new__(cls)
        spool.path = path
        spool._lock = None
        spool._writing = None
        spool.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        return spool

    def close(self) -> None:
        self.db.close()
        if self._writing is not None:
            os.close(self._writing[1])
            self._writing = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


class MemorySpool:
    """The spool's interface kept in memory (``[kete] spool = "memory"``): the same routing and
    marks, no SQLite and no durability. For pipelines where speed matters more than surviving a
    restart, and for benchmarks of the routing itself."""

    def __init__(self, routes: Sequence[str]) -> None:
        if len(routes) > MAX_ROUTES:
            raise KeteError(f"the spool supports at most {MAX_ROUTES} routes, not {len(routes)}")
        self.path = None
        self.bits = {name: bit for bit, name in enumerate(routes)}
        self.done = dict.fromkeys(routes, 0)
        self.next_seq = 1
        # One row per batch, as the disk spool keeps them: (seq, events, masks, accepted).
        self._batches: list[tuple[int, Sequence[Event], Sequence[int], float]] = []
        self._pending = 0
        self._checkpoints: dict[str, bytes] = {}
        self._rejected: deque[tuple[float, Rejection]] = deque(maxlen=10_000)

    def append(self, events: Sequence[Event], masks: Sequence[int], checkpoint: tuple[str, bytes] | None = None) -> int:
        seq = self.next_seq
        if events:
            self._batches.append((seq, events, masks, time.time()))
            self._pending += len(events)
            self.next_seq = seq + 1
        if checkpoint is not None:
            self._checkpoints[checkpoint[0]] = checkpoint[1]
        return seq

    def read(self, route: str, after: int, limit: int) -> list[tuple[int, Event]]:
        bit = 1 << self.bits[route]
        found: list[tuple[int, Event]] = []
        for index in range(bisect.bisect_right(self._batches, after, key=_SEQ), len(self._batches)):
            seq, events, masks, _ = self._batches[index]
            found.extend((seq, event) for event, mask in zip(events, masks, strict=True) if mask & bit)
            if len(found) >= limit:
                break
        return found

    def mark_done(self, route: str, seq: int) -> None:
        if seq > self.done[route]:
            self.done[route] = seq
            self.compact()

    def save(self) -> None:
        """Marks live in memory, and :meth:`mark_done` already dropped what every route is done
        with: nothing to store."""

    def compact(self) -> None:
        cut = bisect.bisect_right(self._batches, self.low_mark, key=_SEQ)
        if cut:
            self._pending -= sum(len(events) for _, events, _, _ in self._batches[:cut])
            del self._batches[:cut]

    def forget_rejected(self, older_than: float) -> None:
        limit = time.time() - older_than
        while self._rejected and self._rejected[0][0] < limit:
            self._rejected.popleft()

    @property
    def low_mark(self) -> int:
        return min(self.done.values(), default=self.next_seq - 1)

    @property
    def depth(self) -> int:
        return self._pending

    def oldest_age(self) -> float:
        return max(0.0, time.time() - self._batches[0][3]) if self._batches else 0.0

    def checkpoint(self, source: str) -> bytes | None:
        return self._checkpoints.get(source)

    def forget_checkpoints(self) -> None:
        self._checkpoints.clear()

    def reject(self, rejection: Rejection) -> None:
        self._rejected.append((time.time(), rejection))

    def rejected(self, limit: int = 1000) -> list[RejectedRecord]:
        return [
            RejectedRecord(at=at, source=r.source, where=r.where, reason=r.reason, raw=r.raw)
            for at, r in list(self._rejected)[-limit:]
        ]

    def close(self) -> None:
        self._batches.clear()
