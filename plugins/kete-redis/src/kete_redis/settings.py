"""Settings of the ``redis-pubsub`` and ``redis-stream`` sinks: the original KETE's keys and defaults."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr

from kete_core import Duration, EncodingSettings, Lowercase, TlsSettings

DEFAULT_PORT = 6379
DEFAULT_TLS_PORT = 6380
DEFAULT_SENTINEL_PORT = 26379

Mode = Literal["standalone", "sentinel", "cluster"]


class RedisSinkConfig(EncodingSettings):
    """What both Redis sinks share: where the server is and how to log in.

    KETE's ``content-encoding`` and ``content-transfer-encoding`` are accepted and, as in KETE's Redis
    destinations, not applied."""

    host: str | None = None
    """The server's host name or address."""
    port: int | None = Field(default=None, gt=0, lt=65536)
    """Default 6379, or 6380 when ``tls.enabled``."""
    mode: Annotated[Mode, Lowercase] = "standalone"
    """KETE's ``standalone``, ``sentinel`` or ``cluster``."""
    sentinel_nodes: str | None = None
    """For ``sentinel``: the sentinels, ``host:port`` (port 26379 by default), comma-separated."""
    sentinel_master_id: str | None = None
    """For ``sentinel``: the name the sentinels monitor the master by."""
    cluster_nodes: str | None = None
    """For ``cluster``: nodes to learn the cluster from, ``host:port`` (``port`` by default), comma-separated."""
    database: int = Field(default=0, ge=0)
    username: str | None = None
    """An ACL user; without it the ``password`` is the server's ``requirepass``."""
    password: SecretStr | None = None
    client_name: str = "kete"
    """Shown by ``CLIENT LIST``."""
    connection_timeout_seconds: Duration = Field(default=10.0, ge=0)
    """Time to open the connection (0: the operating system's)."""
    command_timeout_seconds: Duration = Field(default=10.0, ge=0)
    """Time for the server to answer a batch's commands (0: no limit)."""
    tls: TlsSettings = TlsSettings()
    """KETE's ``tls.*``: trust store, key store (mutual TLS), ``verify-hostname``, …"""
    headers: dict[str, str] = {}
    """KETE's custom headers: extra stream entry fields (templates); Redis pub/sub has nowhere to put them."""
    pool: dict[str, Any] = {}
    """KETE's ``pool.*``: accepted; kete keeps one connection per route and pipelines each batch on it."""

    def default_port(self) -> int:
        """``port``, else 6379, or 6380 with ``tls.enabled``."""
        return self.port or (DEFAULT_TLS_PORT if self.tls.enabled else DEFAULT_PORT)

    def address(self) -> str:
        """Where the server is, in words: ``host:port``, the master's name and the sentinels, or the
        cluster's nodes."""
        if self.mode == "sentinel":
            return f"master '{self.sentinel_master_id}' of sentinels {self.sentinel_nodes}"
        if self.mode == "cluster":
            return "cluster " + ", ".join(f"{host}:{port}" for host, port in self.cluster())
        return f"{self.host}:{self.default_port()}"

    def sentinels(self) -> list[tuple[str, int]]:
        """(host, port) of each of ``sentinel-nodes``."""
        return _nodes(self.sentinel_nodes, DEFAULT_SENTINEL_PORT)

    def cluster(self) -> list[tuple[str, int]]:
        """(host, port) of each of ``cluster-nodes``; a node without a port has ``port`` (KETE's rule)."""
        return _nodes(self.cluster_nodes, self.default_port())

    def problems(self) -> list[tuple[str, str]]:
        """(setting, message) pairs for settings that cannot work."""
        if self.mode == "cluster":
            found = []
            if not self.cluster():
                found.append(("cluster-nodes", "required for mode 'cluster': host:port of one or more nodes"))
            if self.tls.enabled:
                found.append(("tls.enabled", "kete-redis does not support TLS with mode 'cluster' yet"))
            return found
        if self.mode == "sentinel":
            found = []
            if not (self.sentinel_master_id or "").strip():
                found.append(("sentinel-master-id", "required for mode 'sentinel'"))
            if not self.sentinels():
                found.append(("sentinel-nodes", "required for mode 'sentinel': host:port of each sentinel"))
            if self.tls.enabled:
                found.append(("tls.enabled", "kete-redis does not support TLS with mode 'sentinel' yet"))
            return found
        if not (self.host or "").strip():
            return [("host", "required: the Redis server's host name")]
        return []


def _nodes(text: str | None, default_port: int) -> list[tuple[str, int]]:
    """(host, port) of each ``host[:port]`` of the comma-separated *text*."""
    found = []
    for node in (text or "").split(","):
        host, _, port = node.strip().partition(":")
        if host:
            found.append((host, int(port) if port.isdigit() else default_port))
    return found


class RedisPubSubSinkConfig(RedisSinkConfig):
    """Settings of the ``redis-pubsub`` sink."""

    channel: str
    """The channel, a template (``keycloak.${realmLowerCase}``)."""


class RedisStreamSinkConfig(RedisSinkConfig):
    """Settings of the ``redis-stream`` sink (and of ``redis-streams``, its name in older KETE versions)."""

    stream: str
    """The stream's key, a template (``keycloak:${realmLowerCase}``)."""
    max_len: int = Field(default=0, ge=0)
    """Trim the stream to about this many entries (``XADD … MAXLEN ~ n``); 0 keeps every entry."""
    approximate_trimming: bool = True
    """``MAXLEN ~`` (cheap, may keep a few more) rather than ``MAXLEN =``."""
