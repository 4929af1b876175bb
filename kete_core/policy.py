"""What happens when a sink fails: the route's retry and dead-letter settings, how long to wait,
and kete's default decision, a ``trylast`` implementation of
:func:`~kete_core.hookspecs.kete_on_emit_error` that every plugin manager registers (as pytest
ships its own defaults as plugins). The whole retry policy is here; delivery only applies it.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence

from pydantic import Field

from kete_core.contracts import ComponentConfig
from kete_core.errors import PermanentError
from kete_core.fields import Duration
from kete_core.markers import hookimpl


class ErrorAction(enum.Enum):
    """A decision of :func:`~kete_core.hookspecs.kete_on_emit_error`."""

    RETRY = "retry"
    GIVE_UP = "give-up"


class RetrySettings(ComponentConfig):
    """``routes.<name>.retry.*``.

    The original KETE's settings keep their names and defaults (3 attempts in all, the first
    included, 500 ms apart); kete adds exponential backoff (``multiplier`` above 1), jitter and a
    limit on the time spent on one event. After the last attempt the event is dead-lettered.

    A sink that is unreachable as a whole (:class:`~kete_core.errors.Unavailable`) does not use
    up attempts: kete waits for it with the same backoff, up to ``max-wait-duration`` between
    tries, for as long as it takes, and the spool holds what arrives meanwhile.
    """

    enabled: bool = True
    max_attempts: int = Field(default=3, gt=0)
    wait_duration: Duration = 0.5
    multiplier: float = Field(default=1.0, ge=1.0)
    """Each wait is the previous one times this; 1 keeps KETE's fixed wait."""
    max_wait_duration: Duration = 30.0
    jitter: float = Field(default=0.0, ge=0.0, le=1.0)
    """Each wait is shortened by up to this fraction at random, so retries of many routes spread out."""
    max_elapsed_duration: Duration | None = None
    """Give up on an event once this long has passed since its first attempt, whatever the attempts left."""

    @property
    def attempts(self) -> int:
        """How many attempts a message gets in all."""
        return self.max_attempts if self.enabled else 1

    def wait(self, failures: int, errors: Sequence[BaseException] = ()) -> float:
        """Seconds to wait after the *failures*-th consecutive failure (1 for the first): the
        backoff, or longer when a destination asked for it (an HTTP ``Retry-After`` carried by one
        of *errors* as ``retry_after`` seconds)."""
        base = min(self.wait_duration * self.multiplier ** max(0, failures - 1), self.max_wait_duration)
        backoff = base * (1 - self.jitter * random.random())
        asked = [getattr(error, "retry_after", None) for error in errors]
        return max([backoff, *(seconds for seconds in asked if isinstance(seconds, int | float))])

    def retries(self, error: BaseException, attempt: int, elapsed: float) -> bool:
        """True when a message that failed its *attempt*-th attempt with *error*, *elapsed* seconds
        after its first, gets another: attempts are left, time is left, and retrying can help."""
        in_time = self.max_elapsed_duration is None or elapsed < self.max_elapsed_duration
        return attempt < self.attempts and in_time and not isinstance(error, PermanentError)


class DeadLetterSettings(ComponentConfig):
    """``routes.<name>.dead-letter.*``: where events go after their last attempt.

    By default they are appended, with the error and the attempts, to
    ``<data-dir>/dead-letters/<route>.jsonl``, where ``kete dlq list`` and ``kete dlq replay`` find
    them. With ``route``, they are handed to that other route instead (a Kafka topic for dead
    letters, say), whatever that route's matchers.
    """

    route: str | None = None


@hookimpl(trylast=True)
def kete_on_emit_error(error: BaseException, attempt: int, retry: RetrySettings, elapsed: float) -> ErrorAction:
    """kete's answer when every plugin abstained: retry while the route's settings allow."""
    return ErrorAction.RETRY if retry.retries(error, attempt, elapsed) else ErrorAction.GIVE_UP
