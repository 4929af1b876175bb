"""The zeromq sink passes the sink contract with a PUSH socket, read back by a real PULL peer."""

from __future__ import annotations

import pytest
import zmq

from kete_core.testing import SinkContract
from kete_core.testing.services import free_ports

pytestmark = pytest.mark.zeromq


class TestZeroMqPushSink(SinkContract):
    kind = "zeromq"

    @pytest.fixture
    def sink_settings(self, endpoint):
        return {"endpoint": endpoint, "socket-type": "PUSH", "send-timeout-seconds": 5}

    @pytest.fixture
    def read_back(self, peer, endpoint):
        return peer(zmq.PULL, endpoint).payloads

    @pytest.fixture
    def unreachable_settings(self):
        (port,) = free_ports(1)
        return {"endpoint": f"tcp://127.0.0.1:{port}", "socket-type": "PUSH", "send-timeout-seconds": 1}
