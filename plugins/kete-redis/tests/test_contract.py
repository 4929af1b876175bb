"""The redis-pubsub and redis-stream sinks pass the sink contract against the session's Redis server."""

from __future__ import annotations

import pytest

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.redis


class TestRedisPubSubSink(SinkContract):
    kind = "redis-pubsub"

    @pytest.fixture
    def sink_settings(self, redis_server, prefix):
        return {"host": "127.0.0.1", "port": redis_server.port, "channel": f"{prefix}.${{realmLowerCase}}"}

    @pytest.fixture
    def read_back(self, subscriber):
        return lambda: [message.payload for message in subscriber.received]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"host": "127.0.0.1", "port": port, "channel": "nowhere", "connection-timeout-seconds": 2}


class TestRedisStreamSink(SinkContract):
    kind = "redis-stream"

    @pytest.fixture
    def sink_settings(self, redis_server, prefix):
        return {
            "host": "127.0.0.1",
            "port": redis_server.port,
            "stream": f"{prefix}:${{realmLowerCase}}",
            "headers": {"x-realm": "${realmLowerCase}"},
        }

    @pytest.fixture
    def read_back(self, streams, prefix):
        return lambda: [entry.fields["body"] for entry in streams(prefix)]

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"host": "127.0.0.1", "port": port, "stream": "nowhere", "connection-timeout-seconds": 2}


class TestRedisStreamsSink(TestRedisStreamSink):
    """``redis-streams``, the older KETE name, is the same sink."""

    kind = "redis-streams"
