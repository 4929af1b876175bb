"""Health and metrics over HTTP (``[kete.metrics]``), and JSON log lines.

``/healthz`` answers 200 while the process runs. ``/ready`` answers 200 only when every source
and every route's destination is connected, else 503 with the ones that are not. ``/metrics``
is Prometheus's text format. The server runs in a thread and reads a snapshot the event loop
refreshes every second, so a scrape never touches the loop or the spool.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from kete_core.pipeline import Pipeline

log = logging.getLogger("kete")

_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class _Snapshot:
    """What the HTTP thread may read: plain values refreshed by the event loop."""

    def __init__(self) -> None:
        self.spool_depth = 0
        self.oldest_age = 0.0
        self.not_ready: dict[str, str] = {}
        self.source_lag: dict[str, float] = {}


class _PipelineCollector(Collector):
    def __init__(self, pipeline: Pipeline, snapshot: _Snapshot) -> None:
        self.pipeline = pipeline
        self.snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        stats = self.pipeline.stats
        received = CounterMetricFamily("kete_events_received", "Events sources submitted.", labels=["source"])
        rejected = CounterMetricFamily("kete_events_rejected", "Input records that were not events.", labels=["source"])
        for source in sorted(set(stats.received) | set(stats.rejected) | set(self.pipeline.source_status)):
            received.add_metric([source], stats.received.get(source, 0))
            rejected.add_metric([source], stats.rejected.get(source, 0))
        yield received
        yield rejected
        families = {
            "matched": "Events a route selected.",
            "resumed": "Events an earlier run selected and left in the spool, taken up by this run.",
            "delivered": "Events a route's sink acknowledged.",
            "retried": "Event deliveries that were tried again.",
            "dead_lettered": "Events a route gave up on and dead-lettered.",
            "failed": "Events a route could not deliver (dead-lettered or not serializable).",
        }
        for field, description in families.items():
            family = CounterMetricFamily(f"kete_events_{field}", description, labels=["route", "sink"])
            for runner in self.pipeline.runners:
                route = runner.route
                family.add_metric([route.name, route.sink_kind], getattr(stats.routes[route.name], field))
            yield family
        yield GaugeMetricFamily(
            "kete_spool_depth", "Spooled events not yet done by every route.", self.snapshot.spool_depth
        )
        yield GaugeMetricFamily(
            "kete_spool_oldest_age_seconds", "Age of the oldest spooled event not yet done.", self.snapshot.oldest_age
        )
        lag = GaugeMetricFamily(
            "kete_source_lag_seconds", "Now minus the newest event time a source submitted.", labels=["source"]
        )
        for source, seconds in self.snapshot.source_lag.items():
            lag.add_metric([source], seconds)
        yield lag
        ready = GaugeMetricFamily("kete_ready", "1 when the component is connected.", labels=["component"])
        for name in [f"source {name}" for name in self.pipeline.source_status] + [
            f"route {runner.route.name}" for runner in self.pipeline.runners
        ]:
            ready.add_metric([name], 0 if name in self.snapshot.not_ready else 1)
        yield ready


class Observability:
    """Metrics, readiness and the endpoint serving them for one pipeline."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.snapshot = _Snapshot()
        self.registry = CollectorRegistry()
        self.registry.register(_PipelineCollector(pipeline, self.snapshot))
        self.latency = Histogram(
            "kete_delivery_latency_seconds",
            "Seconds from acceptance to acknowledgement, per delivered batch.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.server: ThreadingHTTPServer | None = None

    def refresh(self) -> None:
        """Copy what the endpoint shows from the pipeline (call on the event loop)."""
        pipeline = self.pipeline
        self.snapshot.spool_depth = pipeline.spool.depth
        self.snapshot.oldest_age = pipeline.spool.oldest_age() if self.snapshot.spool_depth else 0.0
        not_ready = {f"source {name}": reason for name, reason in pipeline.source_status.items() if reason}
        for runner in pipeline.runners:
            if runner.unavailable:
                not_ready[f"route {runner.route.name}"] = runner.unavailable
        self.snapshot.not_ready = not_ready
        now_ms = time.time() * 1000
        self.snapshot.source_lag = {name: max(0.0, (now_ms - ms) / 1000) for name, ms in pipeline.newest_time.items()}
        for route, seconds, _count in pipeline.drain_latencies():
            self.latency.labels(route).observe(seconds)

    def start(self, address: str) -> None:
        """Serve ``/healthz``, ``/ready`` and ``/metrics`` on *address* (``host:port``)."""
        host, _, port = address.rpartition(":")
        observability = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._reply(200, b"ok\n", "text/plain")
                elif self.path == "/ready":
                    not_ready = observability.snapshot.not_ready
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
    """One JSON object per log line: time (UTC), level, logger, message, and the exception if any."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)
