"""A listening socket a successor can take over without refusing a connection (``reuse-port``).

With ``SO_REUSEPORT`` several processes listen on one port and the kernel spreads new connections
among them. A listener that closes drops the connections waiting in its own accept queue (they are
reset: p2-inc drops their events), so spreading alone leaves a gap at every hand-over. The newest
listener therefore also attaches a one-instruction classic BPF program to the port's group (Linux
``SO_ATTACH_REUSEPORT_CBPF``): "the second socket". While a predecessor and its successor both
listen, every new connection goes to the successor; once the predecessor has closed, the index is
out of range and the kernel picks the only socket left. The predecessor, draining, then only
answers the requests of connections it already had.
"""

from __future__ import annotations

import ctypes
import logging
import socket
import sys

log = logging.getLogger("kete.http")

_SO_ATTACH_REUSEPORT_CBPF = 51  # Linux, include/uapi/asm-generic/socket.h
_BPF_RET_K = 0x06  # BPF_RET | BPF_K: return the constant k
_SECOND_SOCKET = 1


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A non-blocking socket listening on *host*:*port* with ``SO_REUSEPORT``, to which new
    connections to that port go while an older listener is still open (Linux)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(1024)
        _take_new_connections(sock)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _take_new_connections(sock: socket.socket) -> None:
    if not sys.platform.startswith("linux"):
        return
    program = (_SockFilter * 1)(_SockFilter(_BPF_RET_K, 0, 0, _SECOND_SOCKET))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_REUSEPORT_CBPF, bytes(_SockFprog(1, program)))
    except OSError as exc:
        # Without it the kernel spreads connections: a hand-over may reset a few queued ones.
        log.warning("reuse-port: new connections cannot be steered to this listener: %s", exc)
