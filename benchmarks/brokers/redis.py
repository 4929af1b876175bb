"""kete's ``redis-pubsub`` and ``redis-stream`` sinks next to redis-py sending the same payloads.

The client sends what kete sends (``PUBLISH`` of the KETE JSON; ``XADD`` with ``eventkind``,
``eventtype``, ``contenttype`` and ``body``) in pipelines of 5000 commands (kete's largest batch), every
reply read; its better of two runs counts. kete is timed as ``kete run`` from a file of the same
events (reading, routing, the disk spool, serializing, sending), minus the time of a one-event run,
and its sink alone, in-process, on the same messages in batches of 1000. ``redis-stream`` runs once
more against a cluster of three masters (``mode = cluster``), next to redis-py's cluster pipelines.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from benchmarks.brokers._kete_run import Bench
from benchmarks.throughput import Line
from tests.services.redis_cluster_fixtures import redis_cluster_in
from tests.services.redis_fixtures import redis_server_in

PIPELINE = 5000


async def client_seconds(port: int, bench: Bench, kind: str, name: str, *, cluster: bool = False) -> float:
    """Seconds redis-py takes to send every payload (and read every reply); *port* is a cluster
    node's with *cluster*."""
    client: Redis | RedisCluster = (
        RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port)]) if cluster else Redis(host="127.0.0.1", port=port)
    )
    try:
        await client.ping()
        started = time.perf_counter()
        for start in range(0, len(bench.payloads), PIPELINE):
            pipeline = client.pipeline(transaction=False)
            for event, payload in bench.payloads[start : start + PIPELINE]:
                if kind == "redis-pubsub":
                    pipeline.publish(name, payload)
                else:
                    fields = {"eventkind": event.kind, "eventtype": event.event_type}
                    pipeline.xadd(name, {**fields, "contenttype": "application/json", "body": payload})
            await pipeline.execute()
        return time.perf_counter() - started
    finally:
        await client.aclose()


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-redis-") as tmp:
        folder = Path(tmp)
        server = redis_server_in(folder / "redis")
        server.start()
        try:
            bench = Bench(folder, events)
            measured = []
            for kind, setting in (("redis-pubsub", "channel"), ("redis-stream", "stream")):
                client = min(
                    asyncio.run(client_seconds(server.port, bench, kind, f"client-{kind}-{run}")) for run in range(2)
                )
                settings = {"host": "127.0.0.1", "port": server.port}
                kete = bench.kete_rate({"kind": kind, **settings, setting: f"kete-{kind}"})
                alone = bench.sink_rate(kind, {**settings, setting: f"alone-{kind}"})
                note = f"Redis 7.0, {events:,} events, redis-py pipelines"
                measured.append(Line(f"{kind} (kete run)", kete, events / client, note))
                measured.append(Line(f"{kind} (sink alone)", alone, events / client, note))
        finally:
            server.stop()
        cluster = redis_cluster_in(folder / "redis-cluster")
        cluster.start()
        try:
            kind, port = "redis-stream", cluster.ports[0]
            client = min(
                asyncio.run(client_seconds(port, bench, kind, f"client-{run}", cluster=True)) for run in range(2)
            )
            settings = {"kind": kind, "mode": "cluster", "cluster-nodes": cluster.startup_nodes}
            kete = bench.kete_rate({**settings, "stream": "kete-cluster"})
            note = f"Redis 7.0 cluster of 3 masters, {events:,} events, redis-py cluster pipelines (one stream)"
            measured.append(Line(f"{kind} cluster (kete run)", kete, events / client, note))
            return measured
        finally:
            cluster.stop()
