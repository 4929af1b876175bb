"""One error format for everything that can go wrong before or while kete runs.

Every error names the place (a config path such as ``routes.logins.destination.kind``, or a
source position such as ``events.jsonl:17``), says what is wrong, which plugin was involved,
the underlying cause, and one line of hint.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PluginInfo:
    """Where a component comes from: its entry point and the distribution that declares it."""

    group: str
    name: str
    value: str
    distribution: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        origin = " ".join(part for part in (self.distribution, self.version) if part) or "unknown distribution"
        return f"{origin} (entry point {self.group}:{self.name} = {self.value})"


class KeteError(Exception):
    """Base of every error kete reports to a user.

    :param message: what is wrong, in one sentence.
    :param path: where: a config path or an input position.
    :param plugin: the plugin involved, if any.
    :param hint: one line telling the user what to do.
    :param cause: the underlying exception, also chained as ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        plugin: PluginInfo | None = None,
        hint: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.plugin = plugin
        self.hint = hint
        self.cause = cause
        if cause is not None:
            self.__cause__ = cause

    def __str__(self) -> str:
        lines = [f"{self.path}: {self.message}" if self.path else self.message]
        if self.plugin is not None:
            lines.append(f"  plugin: {self.plugin}")
        if self.cause is not None:
            lines.append(f"  cause: {type(self.cause).__name__}: {self.cause}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class ConfigError(KeteError):
    """The configuration is wrong; ``kete check`` and ``kete run`` exit with status 2."""


class ConfigErrors(ConfigError):
    """Every configuration error found in one pass, reported together."""

    def __init__(self, errors: Iterable[KeteError]) -> None:
        self.errors = list(errors)
        count = len(self.errors)
        super().__init__(f"{count} configuration error{'s' if count != 1 else ''}")

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


class ConfigWarning(KeteError):
    """A configuration kete can run, but probably not as meant (no source, an input file that does
    not exist, ignored environment variables): ``kete check`` prints it, ``kete run`` logs it."""


class PluginError(KeteError):
    """A plugin is missing, ambiguous or broken."""


class MalformedEvent(KeteError):
    """An input record is not a Keycloak event kete can route; it is rejected, the run goes on."""


class SourceError(KeteError):
    """A source cannot read its input (a missing file, a refused connection)."""


class Unavailable(Exception):
    """Raised by a sink that cannot reach its destination at all (connection refused, broker down).

    kete does not count this against the batch's attempts: it waits for the destination with
    backoff for as long as it takes, reports the route as not ready (the message is the reason
    ``/ready`` shows), and the spool keeps what arrives meanwhile.

    :param retry_after: seconds the destination asked to wait (an HTTP ``Retry-After``); kete
        waits at least that long before the next attempt.
    """

    def __init__(self, *args: object, retry_after: float | None = None) -> None:
        super().__init__(*args)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Raised (or returned) by a sink for a message that no retry can deliver, e.g. a bad topic name."""


class RenderError(PermanentError):
    """A template cannot give its value for one event: a variable it uses has no value for the
    event (``${resourceTypeLowerCase}`` on a user event), or the value is refused where it goes
    (``..`` as a URL path segment). Templates return it rather than raise it; a sink fails that
    event alone with it (return it in the event's place), and kete dead-letters it for the route.
    """


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """Return ``"did you mean 'x'?"`` for the closest candidate, or None when nothing is as close
    as *cutoff* (0 to 1)."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=cutoff)
    return f"did you mean '{close[0]}'?" if close else None
