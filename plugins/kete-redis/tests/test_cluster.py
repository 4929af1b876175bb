"""``mode = cluster``: the Redis sinks against a real cluster of three masters (tests/services/
redis_cluster_fixtures.py); what arrived is read back with redis-py's own cluster client."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import orjson
import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from kete_core import ConfigError
from kete_core.event import parse_event
from kete_core.testing import build_sink, read_jsonl, run_kete, user_event, write_jsonl
from kete_core.testing.outage import run_through_an_outage
from tests.services.redis_cluster_fixtures import RedisClusterNodes
from tests.services.redis_fixtures import PASSWORD, USERNAME


@pytest.fixture
def reader(redis_cluster: RedisClusterNodes) -> Iterator[RedisCluster]:
    """redis-py's cluster client, on its own connections."""
    client = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", port) for port in redis_cluster.ports])
    yield client
    client.close()


def bodies(reader: RedisCluster, keys: list[str]) -> dict[str, list[dict[str, bytes]]]:
    """The fields of every entry of each stream in *keys*, in order."""
    return {
        key: [{name.decode(): value for name, value in fields.items()} for _, fields in reader.xrange(key)]
        for key in keys
    }


def realms_on_every_master(reader: RedisCluster, key: Callable[[str], str], per_master: int = 2) -> list[str]:
    """Realm names whose stream keys (``key(realm)``) put *per_master* keys on each master."""
    found: dict[str, list[str]] = {node.name: [] for node in reader.get_primaries()}
    number = 0
    while any(len(realms) < per_master for realms in found.values()):
        realm = f"realm{number}"
        realms = found[reader.get_node_from_key(key(realm)).name]
        if len(realms) < per_master:
            realms.append(realm)
        number += 1
    return sorted(realm for realms in found.values() for realm in realms)


class NodeSubscribers:
    """A subscriber to ``<pattern>`` on each node itself: Redis passes a PUBLISH to every node."""

    def __init__(self, ports: list[int], pattern: str) -> None:
        self.received: dict[int, list[tuple[str, bytes]]] = {port: [] for port in ports}
        self._lock = threading.Lock()
        self._workers = []
        for port in ports:
            pubsub = redis.Redis(host="127.0.0.1", port=port).pubsub(ignore_subscribe_messages=True)
            pubsub.psubscribe(**{pattern: self._handler(port)})
            self._workers.append(pubsub.run_in_thread(sleep_time=0.01, daemon=True))

    def _handler(self, port: int) -> Callable[[dict], None]:
        def handle(message: dict) -> None:
            with self._lock:
                self.received[port].append((message["channel"].decode(), message["data"]))

        return handle

    def wait(self, count: int, timeout: float = 30) -> dict[int, list[tuple[str, bytes]]]:
        deadline = time.monotonic() + timeout
        while min(len(got) for got in self.received.values()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return {port: sorted(got) for port, got in self.received.items()}

    def stop(self) -> None:
        for worker in self._workers:
            worker.stop()


def test_cluster_settings_kete_cannot_use_name_the_setting():
    with pytest.raises(ConfigError) as caught:
        build_sink("redis-stream", {"mode": "cluster", "stream": "s"})
    assert caught.value.path == "routes.contract.destination.cluster-nodes"
    assert "required for mode 'cluster'" in caught.value.message
    with pytest.raises(ConfigError) as caught:
        build_sink("redis-pubsub", {"mode": "cluster", "cluster-nodes": "a:7000", "channel": "c", "tls.enabled": True})
    assert caught.value.path == "routes.contract.destination.tls.enabled"


def test_cluster_nodes_default_to_port():
    sink = build_sink("redis-stream", {"mode": "CLUSTER", "cluster-nodes": "a:7000, b ,c:7002", "stream": "s"})
    assert sink.config.cluster() == [("a", 7000), ("b", 6379), ("c", 7002)]
    assert sink.where == "cluster a:7000, b:6379, c:7002"
    sink = build_sink("redis-stream", {"mode": "cluster", "cluster-nodes": "a", "port": 7100, "stream": "s"})
    assert sink.config.cluster() == [("a", 7100)]


@pytest.mark.redis
def test_kete_properties_over_three_masters(redis_cluster, reader, prefix, tmp_path):
    realms = realms_on_every_master(reader, lambda realm: f"{prefix}:{realm}")
    raw = [user_event(number, realm=realms[number % len(realms)]) for number in range(24)]
    write_jsonl(tmp_path / "events.jsonl", raw)
    subscribers = NodeSubscribers(redis_cluster.ports, f"{prefix}.*")
    try:
        config = tmp_path / "kete.properties"
        config.write_text(
            "\n".join(
                [
                    f"kete.data-dir={tmp_path / 'data'}",
                    "kete.sources.replay.kind=file",
                    "kete.sources.replay.path=events.jsonl",
                    "kete.routes.stream.destination.kind=redis-stream",
                    "kete.routes.stream.destination.mode=cluster",
                    f"kete.routes.stream.destination.cluster-nodes={redis_cluster.startup_nodes}",
                    f"kete.routes.stream.destination.stream={prefix}:${{realmLowerCase}}",
                    "kete.routes.stream.destination.headers.pipeline=kete",
                    f"kete.routes.stream.destination.username={USERNAME}",
                    f"kete.routes.stream.destination.password={PASSWORD}",
                    "kete.routes.pubsub.destination.kind=redis-pubsub",
                    "kete.routes.pubsub.destination.mode=cluster",
                    # one node is enough: the client learns the others from it
                    f"kete.routes.pubsub.destination.cluster-nodes=127.0.0.1:{redis_cluster.ports[1]}",
                    f"kete.routes.pubsub.destination.channel={prefix}.${{realmLowerCase}}",
                ]
            )
            + "\n"
        )
        result = run_kete("run", str(config), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "24 events received, 0 rejected" in result.stderr
        received = subscribers.wait(24)
    finally:
        subscribers.stop()

    payloads = {event["id"]: orjson.dumps(parse_event(event).to_kete()) for event in raw}
    want = {f"{prefix}:{realm}": [] for realm in realms}
    for event in raw:
        want[f"{prefix}:{event['realmName']}"].append(
            {
                "pipeline": b"kete",
                "eventkind": b"EVENT",
                "eventtype": event["type"].encode(),
                "contenttype": b"application/json",
                "body": payloads[event["id"]],
            }
        )
    got = bodies(reader, list(want))
    assert got == want  # every stream, on all three masters, in the file's order, fields in KETE's order
    order = ["pipeline", "eventkind", "eventtype", "contenttype", "body"]
    assert {tuple(fields) for entries in got.values() for fields in entries} == {tuple(order)}
    assert {reader.get_node_from_key(key).name for key in want} == {node.name for node in reader.get_primaries()}
    published = sorted((f"{prefix}.{event['realmName']}", payloads[event["id"]]) for event in raw)
    assert received == {port: published for port in redis_cluster.ports}  # each node's subscribers got all


@pytest.mark.redis
def test_a_refused_command_fails_that_event_alone(redis_cluster, reader, prefix, tmp_path):
    reader.set(f"{prefix}:beta", "not a stream")  # XADD to it is refused with WRONGTYPE
    write_jsonl(tmp_path / "events.jsonl", [user_event(n, realm=("acme", "beta")[n % 2]) for n in range(6)])
    config = tmp_path / "kete.toml"
    config.write_text(
        f'[kete]\ndata-dir = "{tmp_path / "data"}"\n'
        '[sources.replay]\nkind = "file"\npath = "events.jsonl"\n'
        '[routes.r.destination]\nkind = "redis-stream"\nmode = "cluster"\n'
        f'cluster-nodes = "{redis_cluster.startup_nodes}"\nstream = "{prefix}:${{realmLowerCase}}"\n'
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "route r: 6 matched, 3 delivered, 3 failed" in result.stderr
    assert [orjson.loads(entry["body"])["id"] for entry in bodies(reader, [f"{prefix}:acme"])[f"{prefix}:acme"]] == [
        "e0",
        "e2",
        "e4",
    ]
    letters = read_jsonl(tmp_path / "data" / "dead-letters" / "r.jsonl")
    assert sorted(letter["event"]["id"] for letter in letters) == ["e1", "e3", "e5"]
    assert {letter["error"] for letter in letters} == {
        "PermanentError: Redis refused it: WRONGTYPE Operation against a key holding the wrong kind of value"
    }


@pytest.mark.redis
def test_a_wrong_password_is_reported_at_start(redis_cluster, prefix, spawn_kete, tmp_path):
    write_jsonl(tmp_path / "events.jsonl", [user_event(n) for n in range(3)])
    config = tmp_path / "kete.toml"
    config.write_text(
        f'[kete]\ndata-dir = "{tmp_path / "data"}"\n'
        '[sources.replay]\nkind = "file"\npath = "events.jsonl"\n'
        '[routes.redis.destination]\nkind = "redis-stream"\nmode = "cluster"\n'
        f'cluster-nodes = "{redis_cluster.startup_nodes}"\nstream = "{prefix}"\n'
        f'username = "{USERNAME}"\npassword = "not-the-password-42"\n'
    )
    kete = spawn_kete(config)
    kete.wait_for_log(
        "route 'redis': the destination is not available yet: Unavailable: "
        f"Redis at cluster {redis_cluster.startup_nodes.replace(',', ', ')} refused user 'kete': "
    )
    assert kete.stop() == 1
    assert "invalid username-password pair" in kete.log
    assert "not-the-password-42" not in kete.log
    assert "3 event(s) wait in the spool; they are delivered at the next start" in kete.log
    assert not (tmp_path / "data" / "dead-letters").exists()


@pytest.fixture
def cluster(redis_cluster: RedisClusterNodes) -> Iterator[RedisClusterNodes]:
    """The session's cluster, all its nodes up and the cluster ok after the test whatever happened."""
    try:
        yield redis_cluster
    finally:
        redis_cluster.start()


@pytest.mark.redis
async def test_a_master_killed_and_restarted_mid_run_loses_nothing(cluster, reader, prefix, tmp_path):
    keys = [f"{prefix}:acme", f"{prefix}:partner portal"]
    victim = next(node for node in cluster.nodes if node.ports["client"] == reader.get_node_from_key(keys[0]).port)

    def received() -> list[str]:
        try:
            return [
                orjson.loads(fields["body"])["id"] for entries in bodies(reader, keys).values() for fields in entries
            ]
        except redis.RedisError:  # the killed master's keys cannot be read meanwhile
            return []

    async def restart() -> None:
        await asyncio.to_thread(cluster.start)

    report = await run_through_an_outage(
        tmp_path,
        {
            "kind": "redis-stream",
            "mode": "cluster",
            "cluster-nodes": cluster.startup_nodes,
            "stream": f"{prefix}:${{realmLowerCase}}",
            "connection-timeout-seconds": 1,
            "command-timeout-seconds": 2,
        },
        received=received,
        stop=lambda: asyncio.to_thread(victim.kill),
        start=restart,
    )
    assert "Redis at cluster 127.0.0.1:" in report.not_ready, report.not_ready
    ids = received()
    assert sorted(set(ids)) == sorted(event["id"] for event in report.sent)  # at least once, none lost


def move_slot(reader: RedisCluster, key: str) -> int:
    """Move the slot of *key* (and its keys) to another master, as a resharding does; its new port."""
    slot = reader.keyslot(key)
    source = reader.get_node_from_key(key)
    target = next(node for node in reader.get_primaries() if node.name != source.name)
    clients = {node.name: redis.Redis(host="127.0.0.1", port=node.port) for node in reader.get_primaries()}
    try:
        ids = {name: client.execute_command("CLUSTER MYID").decode() for name, client in clients.items()}
        clients[target.name].execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[source.name])
        clients[source.name].execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[target.name])
        keys = clients[source.name].execute_command("CLUSTER GETKEYSINSLOT", slot, 100)
        clients[source.name].execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
        for name in (target.name, source.name, *(name for name in clients if name not in (source.name, target.name))):
            clients[name].execute_command("CLUSTER SETSLOT", slot, "NODE", ids[target.name])
    finally:
        for client in clients.values():
            client.close()
    return target.port


@pytest.mark.redis
def test_a_slot_moved_mid_run_is_followed(redis_cluster, reader, prefix, spawn_kete, tmp_path):
    key = f"{prefix}:acme"
    events = [user_event(n) for n in range(10)]
    source = tmp_path / "events.jsonl"
    write_jsonl(source, events[:5])
    config = tmp_path / "kete.toml"
    config.write_text(
        f'[kete]\ndata-dir = "{tmp_path / "data"}"\n'
        '[sources.replay]\nkind = "file"\npath = "events.jsonl"\nfollow = true\npoll-interval = "50ms"\n'
        '[routes.r.destination]\nkind = "redis-stream"\nmode = "cluster"\n'
        f'cluster-nodes = "{redis_cluster.startup_nodes}"\nstream = "{prefix}:${{realmLowerCase}}"\n'
    )
    kete = spawn_kete(config)

    def arrived(count: int) -> list[str]:
        deadline = time.monotonic() + 30
        while len(ids := [orjson.loads(f["body"])["id"] for f in bodies(reader, [key])[key]]) < count:
            assert time.monotonic() < deadline, kete.log
            time.sleep(0.05)
        return ids

    arrived(5)
    moved_to = move_slot(reader, key)  # kete's client still routes the slot to the old master
    with source.open("ab") as out:
        out.write(b"".join(orjson.dumps(event) + b"\n" for event in events[5:]))
    assert arrived(10) == [event["id"] for event in events]
    assert kete.stop() == 0, kete.log
    assert reader.get_node_from_key(key).port == moved_to
    assert "route r: 10 matched, 10 delivered, 0 failed" in kete.log
