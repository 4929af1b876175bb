"""Keycloak's event log records, as the built-in ``jboss-logging`` event listener writes them, turned
into the Keycloak event JSON kete routes.

The listener logs each event as one message of ``key="value"`` pairs under the logger
``org.keycloak.events`` (success at ``success-level``, errors at ``error-level``)::

    type="LOGIN", realmId="…", realmName="acme", clientId="app", userId="…", sessionId="…",
    ipAddress="10.0.0.7", auth_method="openid-connect", username="alice"
    operationType="CREATE", realmId="…", realmName="master", clientId="…", userId="…",
    ipAddress="10.0.0.7", resourceType="USER", resourcePath="users/…"

How Keycloak writes a value (``JBossLoggingEventListenerProvider.sanitize`` and
``StringUtil.sanitizeSpacesAndQuotes``, Keycloak 24 to 26.7): the quote character (option
``quotes``, default ``"``), then the value with every whitespace character other than a space (and
the no-break space) turned into a space and every quote character written ``\\"``, then the quote
character. Backslashes are **not** escaped, and a null value is written ``"null"``.

So every quote character inside a written value follows a backslash. A closing quote ends the
message or is followed by ``, key=`` and an opening quote; an escaped quote can look like one
(a value ending in a backslash is written ``"a\\"``, a username typed as ``x", error=`` is written
``"x\\", error="``), but of all the ways to split a record into pairs exactly one keeps every quote
inside a value escaped: splitting at such a quote leaves a later value with an unescaped quote or
no closing quote. The parser takes that one split, so nothing a stranger types (a username on the
login page) can end a value early or add a pair.

With ``quotes`` set to ``none`` values are not quoted and not escaped: they run to the next
``, key=``, and a value holding ``, key=`` cannot be told apart from two pairs. With ``sanitize``
off, quotes inside values are not escaped either. Keep both options at their defaults.

The record's fields come first, in Keycloak's order (user events: ``type``, ``realmId``,
``realmName``, ``clientId``, ``userId``, ``sessionId`` when set, ``ipAddress``, ``error`` when set;
admin events: ``operationType``, the acting admin's ``realmId``, ``realmName``, ``clientId``,
``userId``, ``ipAddress``, then ``resourceType``, ``resourcePath``, ``error`` when set); every pair
after them is a detail, except an admin event's trailing ``representation``.

Admin records name the **acting** admin's realm (``realmId``/``realmName``), client (internal id),
user and address, not the realm the resource lives in: they go to ``authDetails``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson

LOGGER = "org.keycloak.events"

# The fields at the start of a record, in the order Keycloak writes them (optional ones included).
USER_FIELDS = ("type", "realmId", "realmName", "clientId", "userId", "sessionId", "ipAddress", "error")
ADMIN_FIELDS = (
    "operationType", "realmId", "realmName", "clientId", "userId", "ipAddress", "resourceType", "resourcePath", "error",
)  # fmt: skip
ADMIN_AUTH_FIELDS = ("realmId", "realmName", "clientId", "userId", "ipAddress")

_KEY_CHARS = r"[^\s=,\"']+"
_KEY = re.compile(_KEY_CHARS)
_NEXT_PAIR = re.compile(rf", (?={_KEY_CHARS}=)")
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
    """The ``key=value`` pairs of an event message, in order; raise :class:`BadRecord` if malformed.

    The first value tells how the record is written: quoted (it starts with a character that
    cannot begin an event type: Keycloak's ``quotes``) or not (``quotes = none``). Quoted, every
    value starts with the quote (the previous value's closing quote is found by what follows it)."""
    first = _key(message, 0)
    opening = message[first.end() + 1 : first.end() + 2]
    if opening and not (opening.isalnum() or opening == "_"):
        return _quoted_pairs(message, opening)
    return _unquoted_pairs(message)


def _key(message: str, at: int) -> re.Match[str]:
    match = _KEY.match(message, at)
    if match is None or message[match.end() : match.end() + 1] != "=":
        raise BadRecord(f"expected key=value at character {at + 1}: {message[at : at + 40]!r}")
    return match


@functools.cache
def _next_pair(quote: str) -> re.Pattern[str]:
    """What follows a closing quote when another pair follows: ``, key=`` and the opening quote."""
    return re.compile(rf", {_KEY_CHARS}={re.escape(quote)}")


def _quoted_pairs(message: str, quote: str) -> list[tuple[str, str | None]]:
    """The pairs of a quoted record: the one split in which every quote inside a value is escaped
    (see the module documentation for why there is only one). Each value ends at its first
    possible closing quote unless the rest of the record then does not read."""
    next_pair = _next_pair(quote)
    size = len(message)
    split: list[tuple[int, str, int, int]] = []  # key position, key, value start, closing quote
    failed: set[int] = set()  # key positions from which the rest does not read
    error: BadRecord | None = None
    at, key, start, end = 0, "", 0, -1
    resume = False
    while True:
        if not resume:
            match = _key(message, at)
            key, start = match.group(), match.end() + 2
            end = message.find(quote, start)
        elif message[end - 1] == "\\":
            end = message.find(quote, end + 1)  # the closing quote tried was an escaped quote
        else:
            end = -1  # an unescaped quote cannot be inside the value
        resume = False
        while end >= 0 and at not in failed:
            if end == size - 1 or next_pair.match(message, end + 1) is not None:
                break
            if message[end - 1] != "\\":
                error = error or BadRecord(
                    f"the value of {key!r} holds an unescaped {quote} at character {end + 1} "
                    "(is the jboss-logging listener's sanitize option off?)"
                )
                end = -1
                break
            end = message.find(quote, end + 1)
        if end >= 0 and at not in failed:
            split.append((at, key, start, end))
            if end == size - 1:
                return _values(message, quote, split)
            at = end + 3  # past the quote and ", "
            continue
        error = error or BadRecord(f"the value of {key!r} has no closing quote")
        failed.add(at)
        if not split:
            raise error
        # A value ending in `", key=` offers a closing quote too soon: the rest did not read.
        at, key, start, end = split.pop()
        resume = True


def _values(message: str, quote: str, split: list[tuple[int, str, int, int]]) -> list[tuple[str, str | None]]:
    escaped = "\\" + quote
    pairs: list[tuple[str, str | None]] = []
    for _, key, start, end in split:
        value = message[start:end].replace(escaped, quote)
        pairs.append((key, None if value == "null" else value))
    return pairs


def _unquoted_pairs(message: str) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    size = len(message)
    at = 0
    while at < size:
        match = _key(message, at)
        at = match.end() + 1
        following = _NEXT_PAIR.search(message, at)
        end = following.start() if following else size
        value = message[at:end]
        pairs.append((match.group(), None if value == "null" else value))
        at = following.end() if following else size
    return pairs


def _leading_fields(
    pairs: list[tuple[str, str | None]], order: tuple[str, ...]
) -> tuple[dict[str, str | None], list[tuple[str, str | None]]]:
    """The record's fields (the leading pairs that follow *order*, some left out) and the pairs after."""
    fields: dict[str, str | None] = {}
    position = 0
    for index, (key, value) in enumerate(pairs):
        try:
            position = order.index(key, position) + 1
        except ValueError:
            return fields, pairs[index:]
        fields[key] = value
    return fields, []


def to_event(pairs: list[tuple[str, str | None]], time_ms: int, admin_realm: str = "acting") -> dict[str, Any]:
    """The Keycloak event JSON of one record's pairs (fields that were null are left out).

    :param admin_realm: ``acting``: an admin event's ``realmId``/``realmName`` are those of the acting
        admin (the only realm the log names); ``none``: only ``authDetails`` carries them.
    """
    if not pairs:
        raise BadRecord("empty event record")
    first = pairs[0][0]
    if first == "type":
        fields, rest = _leading_fields(pairs, USER_FIELDS)
        event: dict[str, Any] = {"time": time_ms}
        event.update((key, value) for key, value in fields.items() if value is not None)
        if "type" not in event:
            raise BadRecord("the event type is null")
        if rest:
            event["details"] = dict(rest)
        return event
    if first == "operationType":
        fields, rest = _leading_fields(pairs, ADMIN_FIELDS)
        event = {"time": time_ms}
        auth = {key: fields[key] for key in ADMIN_AUTH_FIELDS if fields.get(key) is not None}
        for key in ("operationType", "resourceType", "resourcePath", "error"):
            if fields.get(key) is not None:
                event[key] = fields[key]
        if rest and rest[-1][0] == "representation":
            if rest[-1][1] is not None:
                event["representation"] = rest[-1][1]
            rest = rest[:-1]
        for key in ("operationType", "resourceType"):
            if key not in event:
                raise BadRecord(f"admin event record without {key}")
        if admin_realm == "acting":
            for key in ("realmId", "realmName"):
                if key in auth:
                    event[key] = auth[key]
        if auth:
            event["authDetails"] = auth
        if rest:
            event["details"] = dict(rest)
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
