"""What the ``redis-pubsub`` and ``redis-stream`` sinks share: one connection per route, each batch
sent as one pipeline (no MULTI) and every reply checked."""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster

from kete_core import ConfigError, DeliveryResults, Message, PermanentError, Sink, SinkContext, Template, Unavailable
from kete_redis.connection import OUT_OF_REACH, make_client, out_of_service, refused, unreachable
from kete_redis.settings import RedisSinkConfig

log = logging.getLogger("kete.redis")


class RedisSink(Sink):
    """Sends each batch as one pipeline of commands, one per event, and reads every reply.

    A reply that is an error fails its event alone (a :class:`~kete_core.PermanentError` when the
    server would refuse it again, such as ``WRONGTYPE``); a server that cannot be reached, refuses the
    credentials or takes no commands for now (``OOM``, ``LOADING``) makes the whole batch
    :class:`~kete_core.Unavailable`, and kete waits for it.
    """

    Config: ClassVar[type[RedisSinkConfig]] = RedisSinkConfig
    config: RedisSinkConfig
    address_setting: str
    """The templated setting that names where an event goes (``channel``, ``stream``)."""

    def __init__(self, config: RedisSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        for setting, message in config.problems():
            raise ConfigError(message, path=f"{context.path}.{setting}")
        self.target: Template = context.address(self.address_setting, getattr(config, self.address_setting))
        if config.pool:
            log.info("%s.pool: kete keeps one connection per route and pipelines each batch; ignored", context.path)
        if not config.encoding.identity:
            log.warning(
                "%s: content-encoding and content-transfer-encoding are not applied to Redis messages, as in KETE",
                context.path,
            )
        if config.mode == "cluster" and config.database:
            log.warning("%s.database: a Redis cluster has database 0 only; ignored, as in KETE", context.path)
        self.where = config.address()
        self._client: Redis | RedisCluster | None = None

    def _connected(self) -> Redis | RedisCluster:
        if self._client is None:
            self._client = make_client(self.config, self.context.path)
        return self._client

    async def start(self) -> None:
        """Connect and ``PING`` (a cluster: learn its nodes and slots), as KETE checks a Redis
        destination when it starts."""
        try:
            await self._connected().ping()
        except OUT_OF_REACH as exc:
            raise unreachable(self.config, exc) from None

    @abstractmethod
    def queue(self, pipeline: Pipeline | ClusterPipeline, address: str, message: Message) -> None:
        """Add the command that delivers *message* to *address* to *pipeline*."""

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        results: list[BaseException | None] = [None] * len(messages)
        pipeline = self._connected().pipeline(transaction=False)
        queued: list[int] = []
        queue = self.queue
        for index, (message, address) in enumerate(
            zip(messages, self.target.render_all([message.event for message in messages]), strict=True)
        ):
            if isinstance(address, PermanentError):
                results[index] = address
                continue
            queue(pipeline, address, message)
            queued.append(index)
        if queued:
            try:
                replies = await pipeline.execute(raise_on_error=False)
            except OUT_OF_REACH as exc:
                raise unreachable(self.config, exc) from None
            errors = [reply for reply in replies if isinstance(reply, Exception)]
            if errors and len(errors) == len(replies) and all(out_of_service(error) for error in errors):
                # Nothing was taken: wait for the server rather than use up the events' attempts.
                if isinstance(errors[0], OUT_OF_REACH):
                    raise unreachable(self.config, errors[0])
                raise Unavailable(f"Redis at {self.where} takes no commands for now: {errors[0]}")
            for index, reply in zip(queued, replies, strict=True):
                if isinstance(reply, Exception):
                    results[index] = refused(reply)
        return results if any(result is not None for result in results) else None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
