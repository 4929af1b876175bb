"""kete's ``zeromq`` sink next to a plain pyzmq PUSH socket, both sending the same payloads to one PULL
peer (a pyzmq socket in a thread of this process) over TCP on 127.0.0.1. ZeroMQ acknowledges
nothing: a run counts as done when the peer has received every message. The client sends in a loop
(blocking sends, the default high-water mark of 1000); kete is ``kete run`` from a file (source,
spool, serializer, sink), less its start-up time."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import orjson
import zmq

from benchmarks.common import make_events
from benchmarks.throughput import Line, kete_rate, sink_rate
from kete_core import ComponentConfig, parse_event
from kete_core.builtins.json_serializer import JsonSerializer
from kete_core.testing.services import free_ports


class Pull:
    """A PULL peer bound to *endpoint*, counting what it receives."""

    def __init__(self, endpoint: str) -> None:
        self.received = 0
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.PULL)
        self._socket.bind(endpoint)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            if self._socket.poll(50):
                while True:
                    try:
                        self._socket.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self.received += 1

    def wait_for(self, count: int, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while self.received < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the PULL peer received {self.received} of {count}")
            time.sleep(0.001)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close(0)
        self._context.term()


def client_rate(endpoint: str, peer: Pull, events_file: Path) -> float:
    """Events/s of a pyzmq PUSH socket sending each event's kete payload until the peer has them all."""
    serializer = JsonSerializer(ComponentConfig())
    payloads = [serializer.serialize(parse_event(orjson.loads(line))) for line in events_file.read_bytes().splitlines()]
    context = zmq.Context()
    sock = context.socket(zmq.PUSH)
    sock.connect(endpoint)
    first = peer.received
    started = time.perf_counter()
    for payload in payloads:
        sock.send(payload)
    peer.wait_for(first + len(payloads))
    elapsed = time.perf_counter() - started
    sock.close(0)
    context.term()
    return len(payloads) / elapsed


def lines(events: int) -> list[Line]:
    with tempfile.TemporaryDirectory(prefix="kete-bench-zeromq-") as tmp:
        folder = Path(tmp)
        events_file = make_events(folder / "events.jsonl", events)
        (port,) = free_ports(1)
        endpoint = f"tcp://127.0.0.1:{port}"
        peer = Pull(endpoint)
        try:
            client_rate(endpoint, peer, events_file)  # warm-up
            # The better of two: on a shared machine one loop of a second can lose half its speed.
            client = max(client_rate(endpoint, peer, events_file) for _ in range(2))
            before = peer.received
            kete = kete_rate(
                folder, events_file, events, f'kind = "zeromq"\nendpoint = "{endpoint}"\nsocket-type = "PUSH"\n'
            )
            peer.wait_for(before + events + 1)  # and the one-event start-up run
            settings = {"endpoint": endpoint, "socket-type": "PUSH"}
            first = peer.received
            alone = sink_rate("zeromq", settings, events_file, lambda: peer.wait_for(first + events))
        finally:
            peer.close()
    note = f"pyzmq 27 / libzmq 4.3, no acknowledgements; the sink alone: {alone:,.0f} events/s"
    return [Line("zeromq (PUSH to a PULL peer)", kete, client, note)]
