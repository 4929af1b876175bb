"""The redis-py client of a Redis sink: built from KETE's settings, TLS from kete's ``tls.*``, and what
its errors mean for kete (the server is out of reach, or it refused one command)."""

from __future__ import annotations

import ssl
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ConnectionError, RedisClusterException, TimeoutError

from kete_core import PermanentError, Unavailable, client_ssl_context
from kete_redis.settings import RedisSinkConfig

# Error replies with which the server refuses every command for now: kete waits for it.
_SERVER_BUSY = frozenset({"OOM", "LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "NOAUTH"})
# Error replies that sending the same command again cannot change.
_REFUSED = frozenset({"WRONGTYPE", "NOPERM", "ERR"})
# What a command or a reply raises when no server (or cluster node) could take it.
OUT_OF_REACH = (ConnectionError, TimeoutError, OSError, RedisClusterException)


class TlsConnection(Connection):
    """A connection wrapped in the :class:`ssl.SSLContext` kete built from ``tls.*`` (redis-py builds
    its own from file names only, which cannot hold KETE's stores)."""

    def __init__(self, *, ssl_context: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ssl_context = ssl_context

    def _connection_arguments(self) -> dict[str, Any]:
        arguments = dict(super()._connection_arguments())
        arguments["ssl"] = self._ssl_context
        return arguments


def make_client(config: RedisSinkConfig, path: str) -> Redis | RedisCluster:
    """A client for the configured server (standalone, the master the sentinels name, or a cluster);
    it connects on first use and again after a failure."""
    options: dict[str, Any] = {
        "username": config.username or None,
        "password": config.password.get_secret_value() if config.password else None,
        "client_name": config.client_name or None,
        "socket_connect_timeout": config.connection_timeout_seconds or None,
        "socket_timeout": config.command_timeout_seconds or None,
        # kete retries (and waits for an outage) itself; redis-py's retries would only add delay.
        "retry": Retry(NoBackoff(), 0),
        "max_connections": 2,
    }
    if config.mode == "cluster":
        # A cluster has database 0 only; the client routes each key to its node and follows MOVED and ASK.
        nodes = [ClusterNode(host, port) for host, port in config.cluster()]
        return RedisCluster(startup_nodes=nodes, **options)
    options["db"] = config.database
    if config.mode == "sentinel":
        timeouts = {key: options[key] for key in ("socket_connect_timeout", "socket_timeout", "retry")}
        sentinels = Sentinel(config.sentinels(), sentinel_kwargs=timeouts, **options)
        client: Redis = sentinels.master_for(config.sentinel_master_id or "")
        return client
    if config.tls.enabled:
        options["connection_class"] = TlsConnection
        options["ssl_context"] = client_ssl_context(config.tls, f"{path}.tls")
    return Redis.from_pool(ConnectionPool(host=config.host, port=config.default_port(), **options))


def unreachable(config: RedisSinkConfig, exc: BaseException) -> Unavailable:
    """The :class:`Unavailable` for *exc*, raised by a command that found no usable server."""
    where = config.address()
    # A cluster client wraps what its nodes raised ("Redis Cluster cannot be connected …").
    cause = exc.__cause__ if isinstance(exc, RedisClusterException) and exc.__cause__ is not None else exc
    if isinstance(cause, AuthenticationError):
        who = f"user '{config.username}'" if config.username else "the password"
        return Unavailable(f"Redis at {where} refused {who}: {cause}")
    reason = str(exc) or type(exc).__name__
    return Unavailable(f"cannot reach Redis at {where}: {reason}")


def refused(exc: Exception) -> Exception:
    """What a command's error reply means for its event: a :class:`PermanentError` when sending it
    again cannot help, else the error itself (retried as the route's retry policy says)."""
    code = getattr(exc, "status_code", None)
    if code in _REFUSED:
        text = str(exc)
        # redis-py strips the codes it knows (ERR, NOPERM) and keeps the others (WRONGTYPE).
        return PermanentError(f"Redis refused it: {text if text.startswith(code) else f'{code} {text}'}")
    return exc


def server_busy(exc: Exception) -> bool:
    """Whether the error reply *exc* says the server takes no commands for now (out of memory, loading, …)."""
    return getattr(exc, "status_code", None) in _SERVER_BUSY


def out_of_service(exc: Exception) -> bool:
    """Whether the reply *exc* says its server takes no commands for now: busy, or (in a cluster,
    where each node's replies come apart) out of reach."""
    return server_busy(exc) or isinstance(exc, OUT_OF_REACH)
