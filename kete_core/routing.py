"""Routes: which events go where, by KETE's rules.

A route selects an event when its realm matchers accept the event's realm name **and** its event
matchers accept its event type. Within a group, mode ``any`` (the default) needs one matcher to
accept and ``all`` needs every one; an empty group accepts everything. A matcher never accepts a
blank value; ``not:`` inverts a matcher's answer for non-blank values.

:class:`RouteTable` applies the routes to whole batches: each event gets a *mask*, the spool bits
of the routes that take it, and each route its *picks*, one byte per event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter

from kete_core.contracts import Matcher, Serializer, Sink
from kete_core.errors import ConfigError
from kete_core.event import Event
from kete_core.memo import Memo
from kete_core.policy import DeadLetterSettings, RetrySettings

_ROUTING_KEY = attrgetter("realm", "event_type")


@dataclass(frozen=True)
class MatcherSpec:
    """A parsed ``<kind>:[not:]<pattern>`` string."""

    kind: str
    pattern: str
    negate: bool

    @classmethod
    def parse(cls, text: str) -> MatcherSpec:
        """Parse as KETE does: split on ``:`` into at most three parts; a middle part other than
        ``not`` belongs to the pattern, so patterns may contain colons. Raise ``ValueError``."""
        parts = text.strip().split(":", 2)
        if len(parts) < 2:
            raise ValueError(f"malformed matcher {text!r}: write '<kind>:<pattern>' or '<kind>:not:<pattern>'")
        kind = parts[0].strip().lower()
        negate = len(parts) == 3 and parts[1].strip().lower() == "not"
        if negate:
            pattern = parts[2]
        elif len(parts) == 3:
            pattern = f"{parts[1]}:{parts[2]}"
        else:
            pattern = parts[1]
        pattern = pattern.strip()
        if not kind or not pattern:
            raise ValueError(f"malformed matcher {text!r}: the {'kind' if not kind else 'pattern'} is blank")
        return cls(kind=kind, pattern=pattern, negate=negate)


class MatcherGroup:
    """The realm matchers or the event matchers of one route, with their match mode."""

    def __init__(self, matchers: Sequence[tuple[Matcher, bool]], *, require_all: bool = False) -> None:
        self.matchers = list(matchers)
        self.require_all = require_all
        self._decisions: Memo[str, bool] = Memo(self._decide)

    def _decide(self, value: str) -> bool:
        if not self.matchers:
            return True
        answers = (bool(value) and matcher.matches(value) != negate for matcher, negate in self.matchers)
        return all(answers) if self.require_all else any(answers)

    def accepts(self, value: str) -> bool:
        """True when this group lets *value* through."""
        return self._decisions[value]


@dataclass
class Route:
    """A configured, enabled route: selection, serialization and delivery."""

    name: str
    realms: MatcherGroup
    events: MatcherGroup
    serializer_kind: str
    serializer: Serializer
    sink: Sink
    retry: RetrySettings
    dead_letter: DeadLetterSettings = field(default_factory=DeadLetterSettings)
    sink_kind: str = ""

    def selects(self, realm: str, event_type: str) -> bool:
        """True when this route takes an event of *event_type* in *realm*."""
        return self.realms.accepts(realm) and self.events.accepts(event_type)


def compile_matcher(text: str, load: Callable[[str], type[Matcher]], *, path: str) -> tuple[Matcher, bool]:
    """Parse and compile one matcher string; raise :class:`ConfigError` naming *path*."""
    try:
        spec = MatcherSpec.parse(text)
    except ValueError as exc:
        raise ConfigError(str(exc), path=path) from exc
    matcher_cls = load(spec.kind)
    try:
        return matcher_cls(spec.pattern), spec.negate
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid {spec.kind} pattern {spec.pattern!r}: {exc}", path=path) from exc


@dataclass(frozen=True, slots=True)
class Selection:
    """What the routes take of one batch.

    :ivar events: the events of the batch that some route takes, in input order.
    :ivar masks: each of those events' mask: the spool bits of the routes that take it.
    :ivar picks: per route (in table order), one byte per event of :attr:`events`: 1 where the
        route takes it, else 0; the selector of ``itertools.compress``.
    :ivar counts: per route, how many events it takes.
    """

    events: list[Event]
    masks: list[int]
    picks: list[bytes]
    counts: list[int]


class RouteTable:
    """The routes, each with its spool bit, applied to whole batches at C speed: no Python loop
    over the events of a batch.

    :param routes: the routes, in configuration order.
    :param bits: each route's bit number in the spool's masks, by route name.
    """

    def __init__(self, routes: Sequence[Route], bits: Mapping[str, int]) -> None:
        self.routes = list(routes)
        self.bits = [1 << bits[route.name] for route in self.routes]
        # bytes.translate tables: mask (one byte) -> 1 when the route's bit is set, else 0.
        self._pick_tables = [bytes(1 if mask & bit else 0 for mask in range(256)) for bit in self.bits]
        # Up to 8 routes, a batch's masks fit in one bytes object, and each route's picks are one
        # bytes.translate instead of a call per event.
        self._packed = all(bit < 256 for bit in self.bits)
        # Masks by (realm, event type): a batch's masks are one C-level map over it.
        self._masks_by_key: Memo[tuple[str, str], int] = Memo(self._choose)

    def _choose(self, key: tuple[str, str]) -> int:
        """The mask of the routes that take events of (realm, event type) *key*."""
        mask = 0
        for route, bit in zip(self.routes, self.bits, strict=True):
            if route.selects(*key):
                mask |= bit
        return mask

    def select(self, events: Sequence[Event]) -> Selection:
        """What each route takes of *events*."""
        masks = list(map(self._masks_by_key.__getitem__, map(_ROUTING_KEY, events)))
        if 0 in masks:
            taken = list(compress(events, masks))
            masks = list(filter(None, masks))
        else:
            taken = list(events)
        if self._packed:
            packed = bytes(masks)
            picks = [packed.translate(table) for table in self._pick_tables]
        else:
            picks = [bytes(map(bool, map(bit.__and__, masks))) for bit in self.bits]
        return Selection(taken, masks, picks, [route_picks.count(1) for route_picks in picks])
