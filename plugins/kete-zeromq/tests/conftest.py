"""Peers for the ZeroMQ plugin's tests: real pyzmq PULL and SUB sockets on free 127.0.0.1 ports, each
read by its own thread, and background ``kete run``. ZeroMQ needs no broker."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import zmq

from kete_core.testing.services import free_ports
from tests.services.waiting import Inbox


class Peer(Inbox[list[bytes]]):
    """A PULL or SUB socket that binds (or connects to) ``endpoint`` and keeps every message's frames."""

    def __init__(
        self,
        kind: int,
        endpoint: str,
        *,
        bind: bool = True,
        subscribe: bytes = b"",
        curve_secret: bytes | None = None,
    ) -> None:
        self.endpoint = endpoint
        super().__init__()
        self._stop = threading.Event()
        self._context = zmq.Context()
        self._socket = self._context.socket(kind)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RECONNECT_IVL, 50)
        if curve_secret is not None:
            self._socket.curve_server = True
            self._socket.curve_secretkey = curve_secret
        if kind == zmq.SUB:
            self._socket.setsockopt(zmq.SUBSCRIBE, subscribe)
        (self._socket.bind if bind else self._socket.connect)(endpoint)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        while not self._stop.is_set():
            if poller.poll(50):
                frames = self._socket.recv_multipart()
                self.add(frames)
        self._socket.close(0)

    def payloads(self) -> list[bytes]:
        return [frames[-1] for frames in self.received()]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._context.term()


@pytest.fixture
def endpoint() -> str:
    """``tcp://127.0.0.1:<a free port>``."""
    (port,) = free_ports(1)
    return f"tcp://127.0.0.1:{port}"


@pytest.fixture
def peer() -> Iterator[Callable[..., Peer]]:
    """``peer(zmq.PULL, endpoint, bind=True, subscribe=b"", curve_secret=None)``: closed at the end."""
    made: list[Peer] = []

    def make(kind: int, endpoint: str, **options: object) -> Peer:
        made.append(Peer(kind, endpoint, **options))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for each in made:
        each.close()
