"""``destination.kind = "redis-pubsub"``: ``PUBLISH`` each event's payload to its channel; see the README."""

from __future__ import annotations

import logging

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline

from kete_core import Message, SinkContext
from kete_redis.settings import RedisPubSubSinkConfig
from kete_redis.sink import RedisSink

log = logging.getLogger("kete.redis")


class RedisPubSubSink(RedisSink):
    """Publishes the payload alone, as KETE: Redis pub/sub messages carry no metadata. A message
    counts as delivered once the server answered its ``PUBLISH`` (with the number of subscribers
    that got it, which may be none)."""

    Config = RedisPubSubSinkConfig
    config: RedisPubSubSinkConfig
    address_setting = "channel"

    def __init__(self, config: RedisPubSubSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        if config.headers:
            log.warning("%s.headers: Redis pub/sub messages carry no headers, as in KETE; ignored", context.path)

    def queue(self, pipeline: Pipeline | ClusterPipeline, address: str, message: Message) -> None:
        # By name: redis-py blocks its publish() in cluster pipelines, yet any node takes a PUBLISH
        # and the cluster passes it on to the subscribers of every node.
        pipeline.execute_command("PUBLISH", address, message.payload)
