"""Routes: which events go where, by KETE's rules.

A route selects an event when its realm matchers accept the event's realm name **and** its event
matchers accept its event type. Within a group, mode ``any`` (the default) needs one matcher to
accept and ``all`` needs every one; an empty group accepts everything. A matcher never accepts a
blank value; ``not:`` inverts a matcher's answer for non-blank values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kete_core.contracts import Matcher, Serializer, Sink
from kete_core.errors import ConfigError
from kete_core.memo import Memo
from kete_core.policy import DeadLetterSettings, RetrySettings


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
