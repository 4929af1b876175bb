"""What a run reports about itself: its counters, and the status snapshot the pipeline hands to
:mod:`kete_core.observability` once a second."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RouteStats:
    """Counters of one route."""

    matched: int = 0
    resumed: int = 0
    """Events an earlier run had matched and left in the spool, taken up by this run."""
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    dead_lettered: int = 0


@dataclass
class RunStats:
    """Counters of one run, reported when it ends and exported as metrics."""

    received: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    source_errors: int = 0
    routes: dict[str, RouteStats] = field(default_factory=dict)
    left_in_spool: int = 0

    @property
    def failed(self) -> int:
        """Events some route could not deliver: dead-lettered, or failed to serialize."""
        return sum(route.failed for route in self.routes.values())

    def copy(self) -> RunStats:
        """The counters as they are now, apart from the ones that go on counting."""
        routes = {name: RouteStats(**vars(route)) for name, route in self.routes.items()}
        return RunStats(dict(self.received), dict(self.rejected), self.source_errors, routes, self.left_in_spool)


@dataclass(frozen=True)
class Status:
    """A pipeline's state at one moment, in plain values another thread may read.

    :ivar stats: a copy of the run's counters.
    :ivar sinks: each route's sink kind, by route name, in configuration order.
    :ivar sources: the sources' names, in configuration order.
    :ivar not_ready: why a component is not connected, by ``"source <name>"`` or ``"route <name>"``.
    :ivar spool_depth: spooled events some route has not finished with.
    :ivar oldest_age: seconds since the oldest of those was accepted.
    :ivar source_lag: by source, seconds since the newest event time it submitted.
    :ivar latencies: (route, seconds from acceptance to acknowledgement, events) of each batch
        delivered since the previous snapshot.
    """

    stats: RunStats
    sinks: dict[str, str]
    sources: list[str]
    not_ready: dict[str, str]
    spool_depth: int = 0
    oldest_age: float = 0.0
    source_lag: dict[str, float] = field(default_factory=dict)
    latencies: list[tuple[str, float, int]] = field(default_factory=list)
