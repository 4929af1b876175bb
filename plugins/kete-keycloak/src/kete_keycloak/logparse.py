"""Keycloak's event log records, as the built-in ``jboss-logging`` event listener writes them, turned
into the Keycloak event JSON kete routes.

The listener logs each event as one message of ``key="value"`` pairs under the logger
``org.keycloak.events`` (success at ``success-level``, errors at ``error-level``)::

    type="LOGIN", realmId="…", realmName="acme", clientId="app", userId="…", sessionId="…",
    ipAddress="10.0.0.7", auth_method="openid-connect", username="alice"
    operationType="CREATE", realmId="…", realmName="master", clientId="…", userId="…",
    ipAddress="10.0.0.7", resourceType="USER", resourcePath="users/…"

Values are quoted (``quotes``, default ``"``) and a quote inside a value is written ``\\"``;
Keycloak does not escape backslashes, so a ``\\"`` that ends a value (followed by ``, key=`` or
the end) is read as a backslash and the closing quote. Unquoted values (``quotes`` set to none)
run to the next ``, key=``. A value Keycloak had as null is written ``null`` and read as absent.

Admin records name the **acting** admin's realm (``realmId``/``realmName``), client (internal id),
user and address, not the realm the resource lives in: they go to ``authDetails``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson

LOGGER = "org.keycloak.events"

USER_FIELDS = ("id", "type", "realmId", "realmName", "clientId", "userId", "sessionId", "ipAddress", "error")
ADMIN_FIELDS = ("id", "operationType", "resourceType", "resourcePath", "error", "representation")
ADMIN_AUTH_FIELDS = ("realmId", "realmName", "clientId", "userId", "ipAddress")

_KEY = re.compile(r"[^\s=,\"']+")
_NEXT_PAIR = re.compile(r", (?=[^\s=,\"']+=)")
_PLAIN = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d{1,9})?)\s+(?P<level>[A-Z]+)\s+"
    r"\[(?P<logger>[^\]\s]+)\]\s+(?P<rest>.*)$"
)
_THREAD_END = re.compile(r"\) (?=(?:type|operationType)=)")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


def epoch_ms(moment: dt.datetime) -> int:
    """Epoch milliseconds of *moment* (truncated, as log timestamps are); naive means local time."""
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return (moment - _EPOCH) // _MS


class NotAnEventRecord(Exception):
    """The line is not a record of the events logger: skipped without a word."""


class BadRecord(ValueError):
    """The line is an events-logger record but cannot be read as an event."""


def parse_pairs(message: str) -> list[tuple[str, str | None]]:
    """The ``key=value`` pairs of an event message, in order; raise :class:`BadRecord` if malformed."""
    pairs: list[tuple[str, str | None]] = []
    size = len(message)
    at = 0
    while at < size:
        key_match = _KEY.match(message, at)
        if key_match is None or message[key_match.end() : key_match.end() + 1] != "=":
            raise BadRecord(f"expected key=value at character {at + 1}: {message[at : at + 40]!r}")
        key = key_match.group()
        at = key_match.end() + 1
        quote = message[at : at + 1]
        if quote in ('"', "'"):
            value, at = _quoted(message, at + 1, quote, key)
            if at < size:
                if not message.startswith(", ", at):
                    raise BadRecord(f"expected ', ' after the value of {key!r} at character {at + 1}")
                at += 2
        else:
            following = _NEXT_PAIR.search(message, at)
            end = following.start() if following else size
            value = message[at:end]
            at = following.end() if following else size
        pairs.append((key, None if value == "null" else value))
    return pairs


def _quoted(message: str, at: int, quote: str, key: str) -> tuple[str, int]:
    """The value of a quoted field starting at *at* (after the opening quote), and where it ends."""
    parts = []
    while True:
        end = message.find(quote, at)
        if end < 0:
            raise BadRecord(f"the value of {key!r} has no closing quote")
        if end > at and message[end - 1] == "\\" and not _value_ends(message, end + 1):
            parts.append(message[at : end - 1])
            parts.append(quote)
            at = end + 1
            continue
        parts.append(message[at:end])
        return "".join(parts), end + 1


def _value_ends(message: str, at: int) -> bool:
    return at == len(message) or (message.startswith(", ", at) and _NEXT_PAIR.match(message, at) is not None)


def to_event(pairs: list[tuple[str, str | None]], time_ms: int, admin_realm: str = "acting") -> dict[str, Any]:
    """The Keycloak event JSON of one record's pairs (fields that were null are left out).

    :param admin_realm: ``acting``: an admin event's ``realmId``/``realmName`` are those of the acting
        admin (the only realm the log names); ``none``: only ``authDetails`` carries them.
    """
    if not pairs:
        raise BadRecord("empty event record")
    first = pairs[0][0]
    if first == "type":
        event: dict[str, Any] = {"time": time_ms}
        details: dict[str, Any] = {}
        for key, value in pairs:
            if key in USER_FIELDS and key not in event:
                if value is not None:
                    event[key] = value
            else:
                details[key] = value
        if "type" not in event:
            raise BadRecord("the event type is null")
        if details:
            event["details"] = details
        return event
    if first == "operationType":
        event = {"time": time_ms}
        auth: dict[str, Any] = {}
        details = {}
        for key, value in pairs:
            if key in ADMIN_AUTH_FIELDS and key not in auth:
                if value is not None:
                    auth[key] = value
            elif key in ADMIN_FIELDS and key not in event:
                if value is not None:
                    event[key] = value
            else:
                details[key] = value
        for key in ("operationType", "resourceType"):
            if key not in event:
                raise BadRecord(f"admin event record without {key}")
        if admin_realm == "acting":
            for key in ("realmId", "realmName"):
                if key in auth:
                    event[key] = auth[key]
        if auth:
            event["authDetails"] = auth
        if details:
            event["details"] = details
        return event
    raise BadRecord(f"an event record starts with type= or operationType=, not {first}=")


@dataclass
class Record:
    """One events-logger record: when, at which level, and its message."""

    time_ms: int
    level: str
    message: str


Format = Literal["auto", "plain", "json"]


class LineParser:
    """Reads event records from Keycloak log lines (plain or JSON), and nothing else.

    :param fmt: ``plain``, ``json`` or ``auto`` (a line that starts with ``{`` is JSON).
    :param timezone: the zone of the plain format's timestamps (they carry none); None for this
        machine's local time.
    :param logger: the events logger's name.
    :param pattern: a regular expression for plain lines with groups ``time``, ``logger`` and
        ``message`` (default: Keycloak's default file format).
    :param time_format: ``strptime`` format of ``time`` for a custom pattern.
    """

    def __init__(
        self,
        fmt: Format = "auto",
        *,
        timezone: str | None = None,
        logger: str = LOGGER,
        pattern: str | None = None,
        time_format: str | None = None,
        admin_realm: str = "acting",
    ) -> None:
        self.format = fmt
        self.zone = ZoneInfo(timezone) if timezone else None
        self.logger = logger
        self.needle = logger.encode()
        self.pattern = re.compile(pattern) if pattern else None
        self.time_format = time_format
        self.admin_realm = admin_realm
        self._plain_time: Callable[[str], int] = self._strptime if time_format else self._default_time

    def parse(self, line: bytes) -> dict[str, Any]:
        """The event of *line*; :class:`NotAnEventRecord` for other lines, :class:`BadRecord` for a
        broken event record."""
        if self.needle not in line:
            raise NotAnEventRecord
        record = self.record(line)
        return to_event(parse_pairs(record.message), record.time_ms, self.admin_realm)

    def record(self, line: bytes) -> Record:
        """The events-logger record of *line* (see :meth:`parse` for the exceptions)."""
        stripped = line.strip()
        if self.format == "json" or (self.format == "auto" and stripped.startswith(b"{")):
            return self._json(stripped)
        return self._plain(stripped)

    def _json(self, line: bytes) -> Record:
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise BadRecord(f"a JSON log line that is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise NotAnEventRecord
        # Keycloak's default JSON format, and ECS (--log-file-json-format=ecs).
        logger = data.get("loggerName", data.get("log.logger"))
        if logger != self.logger:
            raise NotAnEventRecord
        message = data.get("message")
        stamp = data.get("timestamp", data.get("@timestamp"))
        if not isinstance(message, str) or not isinstance(stamp, str):
            raise BadRecord("an events record without a message or timestamp")
        try:
            moment = dt.datetime.fromisoformat(stamp)
        except ValueError as exc:
            raise BadRecord(f"unreadable timestamp {stamp!r}") from exc
        if moment.tzinfo is None and self.zone is not None:
            moment = moment.replace(tzinfo=self.zone)
        level = data.get("level", data.get("log.level"))
        return Record(epoch_ms(moment), str(level or ""), message)

    def _plain(self, line: bytes) -> Record:
        text = line.decode("utf-8", "replace")
        if self.pattern is not None:
            match = self.pattern.match(text)
            if match is None or match.group("logger") != self.logger:
                raise NotAnEventRecord
            groups = match.groupdict()
            message, level = match.group("message"), groups.get("level") or ""
        else:
            match = _PLAIN.match(text)
            if match is None or match.group("logger") != self.logger:
                raise NotAnEventRecord
            rest = match.group("rest")
            thread_end = _THREAD_END.search(rest)
            if not rest.startswith("(") or thread_end is None:
                raise BadRecord("no type= or operationType= after the thread name")
            message, level = rest[thread_end.end() :], match.group("level")
        try:
            time_ms = self._plain_time(match.group("time"))
        except ValueError as exc:
            raise BadRecord(f"unreadable time {match.group('time')!r}: {exc}") from exc
        return Record(time_ms, level, message)

    def _local(self, moment: dt.datetime) -> int:
        if moment.tzinfo is None and self.zone is not None:
            moment = moment.replace(tzinfo=self.zone)
        return epoch_ms(moment)

    def _default_time(self, text: str) -> int:
        date, _, clock = text.replace("T", " ").partition(" ")
        whole, _, fraction = clock.replace(",", ".").partition(".")
        micro = int((fraction + "000000")[:6]) if fraction else 0
        year, month, day = date.split("-")
        hour, minute, second = whole.split(":")
        moment = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
        return self._local(moment)

    def _strptime(self, text: str) -> int:
        assert self.time_format is not None
        return self._local(dt.datetime.strptime(text, self.time_format))
