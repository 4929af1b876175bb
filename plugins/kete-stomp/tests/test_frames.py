"""STOMP 1.2 frames as kete writes and reads them (no broker)."""

from __future__ import annotations

import asyncio

import pytest
from kete_stomp.frames import FrameError, FrameReader, encode


def test_header_values_are_escaped_except_in_connect():
    assert encode("SEND", {"a:b": "x\ny\\z\r"}, b"{}") == b"SEND\na\\cb:x\\ny\\\\z\\r\n\n{}\x00"
    assert encode("CONNECT", {"login": "a:b"}, escape=False) == b"CONNECT\nlogin:a:b\n\n\x00"


async def read_all(chunks: list[bytes]):
    reader = asyncio.StreamReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    frames = FrameReader(reader, chunk=7)  # small reads: frames cross chunk boundaries
    got = []
    while (frame := await frames.read()) is not None:
        got.append(frame)
    return got


async def test_frames_are_read_across_chunks_with_heart_beats_and_bodies():
    data = (
        b"\n\r\nRECEIPT\nreceipt-id:e-1\n\n\x00\n"
        b"ERROR\r\nmessage:not_found\r\ncontent-length:4\r\nreceipt-id:a\\cb\r\n\r\nx\x00y!\x00"
        b"MESSAGE\nk:v\n\nno length\x00"
    )
    frames = await read_all([data[:13], data[13:40], data[40:]])
    assert [(f.command, f.headers, f.body) for f in frames] == [
        ("RECEIPT", {"receipt-id": "e-1"}, b""),
        ("ERROR", {"message": "not_found", "content-length": "4", "receipt-id": "a:b"}, b"x\x00y!"),
        ("MESSAGE", {"k": "v"}, b"no length"),
    ]
    assert frames[1].describe() == "not_found; x\x00y!"


async def test_a_stream_that_ends_inside_a_frame_is_an_error():
    with pytest.raises(FrameError, match="inside a frame"):
        await read_all([b"RECEIPT\nreceipt-id:1\n"])
    with pytest.raises(FrameError, match="not followed by NUL"):
        await read_all([b"ERROR\ncontent-length:1\n\nxy\x00"])
