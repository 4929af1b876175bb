"""Health and metrics over HTTP (``[kete.metrics]``), and JSON log lines.

``/healthz`` answers 200 while the process runs. ``/ready`` answers 200 only when every source
and every route's destination is connected, else 503 with the ones that are not. ``/metrics``
is Prometheus's text format. The server runs in a thread and shows the last
:class:`~kete_core.status.Status` the pipeline handed over (once a second, on the event loop), so
a scrape never touches the loop or the spool.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from kete_core.display import redact
from kete_core.status import RunStats, Status

log = logging.getLogger("kete")

_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_ROUTE_COUNTERS = {
    "matched": "Events a route selected.",
    "resumed": "Events an earlier run selected and left in the spool, taken up by this run.",
    "delivered": "Events a route's sink acknowledged.",
    "retried": "Event deliveries that were tried again.",
    "dead_lettered": "Events a route gave up on and dead-lettered.",
    "failed": "Events a route could not deliver (dead-lettered or not serializable).",
}


class _StatusCollector(Collector):
    """The metrics of the last status snapshot."""

    def __init__(self, observability: Observability) -> None:
        self.observability = observability

    def collect(self) -> Iterator[Any]:
        status = self.observability.status
        stats = status.stats
        received = CounterMetricFamily("kete_events_received", "Events sources submitted.", labels=["source"])
        rejected = CounterMetricFamily("kete_events_rejected", "Input records that were not events.", labels=["source"])
        for source in sorted(set(stats.received) | set(stats.rejected) | set(status.sources)):
            received.add_metric([source], stats.received.get(source, 0))
            rejected.add_metric([source], stats.rejected.get(source, 0))
        yield received
        yield rejected
        for field, description in _ROUTE_COUNTERS.items():
            family = CounterMetricFamily(f"kete_events_{field}", description, labels=["route", "sink"])
            for route, sink in status.sinks.items():
                family.add_metric([route, sink], getattr(stats.routes[route], field))
            yield family
        yield GaugeMetricFamily("kete_spool_depth", "Spooled events not yet done by every route.", status.spool_depth)
        yield GaugeMetricFamily(
            "kete_spool_oldest_age_seconds", "Age of the oldest spooled event not yet done.", status.oldest_age
        )
        lag = GaugeMetricFamily(
            "kete_source_lag_seconds", "Now minus the newest event time a source submitted.", labels=["source"]
        )
        for source, seconds in status.source_lag.items():
            lag.add_metric([source], seconds)
        yield lag
        ready = GaugeMetricFamily("kete_ready", "1 when the component is connected.", labels=["component"])
        for name in [f"source {name}" for name in status.sources] + [f"route {route}" for route in status.sinks]:
            ready.add_metric([name], 0 if name in status.not_ready else 1)
        yield ready


class Observability:
    """Metrics, readiness and the endpoint serving them, from the status snapshots it is given."""

    def __init__(self) -> None:
        self.status = Status(RunStats(), {}, [], {})
        self.registry = CollectorRegistry()
        self.registry.register(_StatusCollector(self))
        self.latency = Histogram(
            "kete_delivery_latency_seconds",
            "Seconds from acceptance to acknowledgement, per delivered batch.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.server: ThreadingHTTPServer | None = None

    def update(self, status: Status) -> None:
        """Show *status* from now on (call on the event loop)."""
        for route, seconds, _count in status.latencies:
            self.latency.labels(route).observe(seconds)
        self.status = status

    def start(self, address: str) -> None:
        """Serve ``/healthz``, ``/ready`` and ``/metrics`` on *address* (``host:port``)."""
        host, _, port = address.rpartition(":")
        observability = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._reply(200, b"ok\n", "text/plain")
                elif self.path == "/ready":
                    not_ready = observability.status.not_ready
                    body = json.dumps({"ready": not not_ready, "not_ready": not_ready}).encode()
                    self._reply(503 if not_ready else 200, body, "application/json")
                elif self.path == "/metrics":
                    self._reply(200, generate_latest(observability.registry), "text/plain; version=0.0.4")
                else:
                    self._reply(404, b"not found\n", "text/plain")

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="kete-metrics", daemon=True).start()
        log.info("health and metrics on http://%s:%d (/healthz, /ready, /metrics)", *self.server.server_address[:2])

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: time (UTC), level, logger, message, and the exception if any.
    JSON escapes control characters itself; URLs show no credentials."""

    def __init__(self) -> None:
        super().__init__()
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry)
