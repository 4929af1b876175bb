"""A batch as NATS protocol: the ``HPUB`` commands nats-py's ``Client.publish`` would write, built for
the whole batch and handed to the client's outgoing buffer in a few large writes.

``Client.publish`` costs about as much per message as the rest of kete's pipeline together (a
coroutine, subject and header checks, a ``bytearray`` per header block, its buffer bookkeeping).
Here each distinct header block is encoded once, each message costs one formatted command line, and
the batch goes to the buffer about a mebibyte at a time. The bytes are nats-py's, byte for byte: a
test sends the shipped events both ways through a recording relay in front of a real server and
compares what reached it. What nats-py checks per message is checked here too (a closed connection,
the server's ``max_payload``); subjects are checked by the sink before they get here.

This writes through two internals of nats-py's ``Client`` (``_send_command``, ``_flush_pending``),
present unchanged from nats-py 2.0 to 2.16; the dependency is pinned below 3.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from nats.aio.client import Client
from nats.errors import ConnectionClosedError

_CRLF = b"\r\n"
_STATUS_LINE = b"NATS/1.0\r\n"
# nats-py's rules for header names, and what it does to values (a newline would end the header).
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NEWLINES = str.maketrans({"\r": " ", "\n": " "})
# Commands are handed to the client's buffer in pieces of about this size (its limit is 2 MiB by
# default; a larger piece makes it flush and wait).
_PIECE = 1 << 20


def header_block(headers: Iterable[tuple[str, str]]) -> bytes:
    """The header section of a message, as nats-py encodes a ``headers`` dict with these items."""
    parts = [_STATUS_LINE]
    for name, value in headers:
        key = name.strip()
        if key:
            parts.append(f"{key}: {value.strip().translate(_NEWLINES)}\r\n".encode())
    parts.append(_CRLF)
    return b"".join(parts)


def hpub(subject: str, reply: str, block: bytes, payload: bytes) -> list[bytes]:
    """The pieces of one ``HPUB`` command: subject, optional reply subject, header block, payload."""
    size = len(block)
    return [f"HPUB {subject} {reply} {size} {size + len(payload)}\r\n".encode(), block, payload, _CRLF]


class Commands:
    """Commands for one connection, collected and written in pieces of about a mebibyte."""

    def __init__(self, connection: Client) -> None:
        if connection.is_closed or not connection.is_connected:
            raise ConnectionClosedError
        self.connection = connection
        self._parts: list[bytes] = []
        self._size = 0
        self._messages = 0
        self._payload_bytes = 0

    def add(self, subject: str, reply: str, block: bytes, payload: bytes) -> bool:
        """Queue one message; True once about a mebibyte is queued, to be written (:meth:`write`)."""
        command = hpub(subject, reply, block, payload)
        self._parts += command
        self._size += len(command[0]) + len(block) + len(payload) + 2
        self._messages += 1
        self._payload_bytes += len(payload)
        return self._size >= _PIECE

    async def write(self) -> None:
        """Hand what is queued to the client's buffer and wake its flusher, as ``publish`` does."""
        if not self._parts:
            return
        connection = self.connection
        if connection.is_closed:
            raise ConnectionClosedError
        piece, self._parts, self._size = b"".join(self._parts), [], 0
        connection.stats["out_msgs"] += self._messages
        connection.stats["out_bytes"] += self._payload_bytes
        self._messages = self._payload_bytes = 0
        await connection._send_command(piece)
        await connection._flush_pending()
