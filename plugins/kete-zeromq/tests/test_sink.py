"""The zeromq sink against a real PULL socket that falls behind: a batch larger than every queue on
the way goes out whole, once, in order, waiting while the peer takes nothing."""

from __future__ import annotations

import threading
import time

import pytest
import zmq

from kete_core.testing import build_sink, json_message

pytestmark = pytest.mark.zeromq


async def test_a_batch_the_peer_cannot_take_at_once_arrives_whole_once_and_in_order(endpoint):
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVHWM, 10)
    pull.bind(endpoint)
    received: list[bytes] = []

    def read_later() -> None:
        time.sleep(0.5)  # the sink fills every queue first and has to wait for the peer
        while len(received) < 300 and pull.poll(10_000):
            received.append(pull.recv())

    reader = threading.Thread(target=read_later)
    sink = build_sink("zeromq", {"endpoint": endpoint, "socket-type": "PUSH", "send-high-water-mark": 10})
    messages = [json_message(number) for number in range(300)]
    for number, message in enumerate(messages):
        message.payload = b"%06d" % number + b"." * 100_000  # 30 MB in all: more than the sockets buffer
    try:
        started = time.monotonic()
        reader.start()
        assert await sink.send(messages) is None
        assert time.monotonic() - started > 0.4  # it did wait for the reader
        reader.join(30)
        assert [payload[:6] for payload in received] == [b"%06d" % number for number in range(300)]
    finally:
        await sink.close()
        pull.close(0)
        context.term()
