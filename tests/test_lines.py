"""Whole lines from a byte stream, and decoding them all in one call only when that is exact."""

from __future__ import annotations

import asyncio

import orjson
from hypothesis import given
from hypothesis import strategies as st

from kete_core import lines as lines_module
from kete_core.lines import LineReader, Position, cut_lines, json_lines


def per_line(lines: list[bytes]) -> list[object] | None:
    """What decoding each line alone gives; None when some line is not one JSON value."""
    try:
        return [orjson.loads(line) for line in lines]
    except orjson.JSONDecodeError:
        return None


def test_cut_lines_keeps_the_partial_line_for_later():
    assert cut_lines(b"", b'{"a":1}\n{"b"') == (b'{"a":1}', b'{"b"')
    assert cut_lines(b'{"b"', b':2}\n{"c":3}\n') == (b'{"b":2}\n{"c":3}', b"")
    assert cut_lines(b"", b"\n") == (b"", b"")  # one blank line
    assert cut_lines(b"{", b'"no newline"') == (None, b'{"no newline"')


def test_json_lines_decodes_each_line():
    text = b'{"type":"LOGIN","details":{"a":"1"}}\n[1,[2],{"x":[]}]\r\n"text"\n{"r":"[{\\"a\\":1}], 2"}'
    assert json_lines(text) == per_line(text.split(b"\n"))
    # ``],[`` in a string is harmless, but the cheap proof cannot tell: decode line by line.
    assert json_lines(b'{"r":"[1],[2]"}') is None
    # Past the first 64 "]", the rest of the text is searched in one go.
    harmless = b"\n".join([b'{"r":[[1]]}'] * 50)
    assert json_lines(harmless) == [{"r": [[1]]}] * 50
    assert json_lines(harmless + b'\n{"a":1}] ,\t[{"b":2}\n{"c":[[1\n2]]}') is None


def test_json_lines_refuses_what_is_not_one_value_per_line():
    for text, count in [
        (b'{"a":1}\n\n{"b":2}', 3),  # a blank line
        (b'{"a":1}\n   ', 2),  # a line of spaces
        (b'{"a":1}\n{"b":', 2),  # malformed
        (b'{"a":1} {"b":2}', 1),  # two values
        (b'{"a":1},{"b":2}', 1),  # two values, comma-separated
        (b'{"a":[1\n2]}', 2),  # one value over two lines
        # Two lines sharing one value while a third holds two: the counts agree, the lines do not.
        (b'{"a":1}],[{"b":2}\n{"c":[[1\n2]]}', 3),
        (b'{"a":1} ] , [ {"b":2}\n{"c":[[1\n2]]}', 3),
    ]:
        assert json_lines(text) is None, text
        assert per_line(text.split(b"\n")) is None or count != len(text.split(b"\n")), text


TOKENS = [b"{", b"}", b"[", b"]", b",", b":", b'"a"', b'"a":', b"1", b" ", b'{"t":"X"}', b"[1]", b'"],["']


@given(st.lists(st.lists(st.sampled_from(TOKENS), max_size=8).map(b"".join), min_size=1, max_size=6))
def test_json_lines_agrees_with_decoding_line_by_line(lines):
    """Whatever the lines, a result is exactly the line-by-line one; None only when that one fails
    (or the cheap proof does not hold, as for a line with ``],[``)."""
    text = b"\n".join(lines)
    result = json_lines(text)
    expected = per_line(lines)
    if result is not None:
        assert result == expected
    elif expected is not None:
        assert any(b"]" in line and b"[" in line for line in lines)


async def test_line_reader_numbers_lines_across_chunks_and_a_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(lines_module, "_CHUNK", 8)  # a few lines per read
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(b'{"n":%d}\n' % number for number in range(1, 11)) + b'{"n":11}')

    async def read(start: Position | None, *, decoded: bool) -> list[tuple[int, list[bytes], Position]]:
        chunks = []
        async for chunk in LineReader(path, follow=False, poll_interval=0.1).chunks(asyncio.Event(), start):
            if decoded:
                chunk.count = len(json_lines(chunk.text) or [])  # as the file source does
            chunks.append((chunk.first_line, chunk.lines, chunk.position))
        return chunks

    for decoded in (False, True):
        chunks = await read(None, decoded=decoded)
        numbered = [(first + index, line) for first, lines, _ in chunks for index, line in enumerate(lines)]
        assert numbered == [(number, b'{"n":%d}' % number) for number in range(1, 12)]
        assert chunks[-1][2].line == 11 and chunks[-1][2].offset == path.stat().st_size
        middle = chunks[len(chunks) // 2][2]
        resumed = await read(middle, decoded=decoded)
        assert resumed[0][0] == middle.line + 1
        assert resumed[0][1][0] == b'{"n":%d}' % (middle.line + 1)
