"""A session-scoped Redis Cluster of three masters (the Debian ``redis-server``, no replicas) for the
kete-redis tests; mark them ``redis``.

Each node is a :class:`~kete_core.testing.services.Service` with its own folder, client port and
cluster bus port; the nodes are joined with ``redis-cli --cluster create`` once per session. Users as
on ``redis_server``: the default one needs no password, the ACL user ``kete`` has ``kete-secret``.
Each write reaches the append-only file before it is answered, so a node killed and started again
(``node.kill()``/``node.start()`` in a test) keeps every stream entry it acknowledged.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kete_core.testing.services import (
    HOST,
    Service,
    ServiceSpec,
    ServiceStartError,
    debian_program,
    started,
)

NODES = 3


def _command(service: Service) -> list[str]:
    # Imported here: pytest registers redis_fixtures as a plugin after this module, and a plugin
    # module imported before then is not assertion-rewritten.
    from tests.services.redis_fixtures import PASSWORD, USERNAME

    return [
        service.program,
        "--bind", HOST,
        "--port", str(service.ports["client"]),
        "--cluster-enabled", "yes",
        "--cluster-port", str(service.ports["bus"]),
        "--cluster-config-file", str(service.workdir / "nodes.conf"),
        "--cluster-node-timeout", "2000",
        "--dir", str(service.workdir),
        "--save", "",
        "--appendonly", "yes",
        "--appendfsync", "always",
        "--protected-mode", "no",
        "--user", "default", "on", "nopass", "~*", "&*", "+@all",
        "--user", USERNAME, "on", f">{PASSWORD}", "~*", "&*", "+@all",
    ]  # fmt: skip


REDIS_CLUSTER_NODE = ServiceSpec(
    name="redis-cluster-node",
    program=lambda: debian_program("redis-server", package="redis-server"),
    ports=("client", "bus"),
    command=_command,
    ready=lambda service: _answers_ping(service.ports["client"]),
    start_timeout=20.0,
)


def _answers_ping(port: int) -> bool:
    from tests.services.redis_fixtures import answers_ping

    return answers_ping(port)


def redis_cli() -> str:
    """The ``redis-cli`` of the Debian package (``redis-tools``, which ``redis-server`` pulls in)."""
    return debian_program("redis-cli", package="redis-tools")


@dataclass
class RedisClusterNodes:
    """The running cluster: its nodes, and how to reach it."""

    nodes: list[Service]

    @property
    def ports(self) -> list[int]:
        return [node.ports["client"] for node in self.nodes]

    @property
    def startup_nodes(self) -> str:
        """``cluster-nodes`` naming every node: ``127.0.0.1:p1,127.0.0.1:p2,…``."""
        return ",".join(f"{HOST}:{port}" for port in self.ports)

    def state_ok(self) -> bool:
        """Whether every node reports ``cluster_state:ok``."""
        for port in self.ports:
            info = subprocess.run(
                [redis_cli(), "-h", HOST, "-p", str(port), "cluster", "info"], capture_output=True, text=True
            )
            if "cluster_state:ok" not in info.stdout:
                return False
        return True

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Wait until every node reports ``cluster_state:ok``."""
        deadline = time.monotonic() + timeout
        while not self.state_ok():
            if time.monotonic() > deadline:
                raise ServiceStartError(f"the Redis cluster {self.startup_nodes} is not ok after {timeout:.0f} s")
            time.sleep(0.1)

    def start(self) -> None:
        """Start every node (again) and, the first time, make them one cluster."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        for node in self.nodes:
            node.start()
        if not (self.nodes[0].workdir / "created").exists():
            nodes = [f"{HOST}:{port}" for port in self.ports]
            created = subprocess.run(
                [redis_cli(), "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            if created.returncode != 0:
                raise ServiceStartError(f"redis-cli --cluster create failed:\n{created.stdout}{created.stderr}")
            (self.nodes[0].workdir / "created").write_text(created.stdout)
        self.wait_ok()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def redis_cluster_in(workdir: Path) -> RedisClusterNodes:
    """A cluster of three masters (not started yet), each node's state in a folder under *workdir*."""
    return RedisClusterNodes([Service(REDIS_CLUSTER_NODE, workdir / f"node-{number}") for number in range(NODES)])


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    """Three Redis masters joined as a cluster, started once per session and stopped at its end."""
    yield from started(redis_cluster_in(tmp_path_factory.mktemp("redis-cluster")))
