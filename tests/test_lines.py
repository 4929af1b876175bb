"""Whole lines from a byte stream, and decoding them all in one call only when that is exact."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from kete_core.lines import cut_lines, json_lines


def per_line(lines: list[bytes]) -> list[object] | None:
    """What decoding each line alone gives; None when some line is not one JSON value."""
    try:
        return [orjson.loads(line) for line in lines]
    except orjson.JSONDecodeError:
        return None


def test_cut_lines_keeps_the_partial_line_for_later():
    assert cut_lines(b"", b'{"a":1}\n{"b"') == (b'{"a":1}', 1, b'{"b"')
    assert cut_lines(b'{"b"', b':2}\n{"c":3}\n') == (b'{"b":2}\n{"c":3}', 2, b"")
    assert cut_lines(b"{", b'"no newline"') == (b"", 0, b'{"no newline"')


def test_json_lines_decodes_each_line():
    text = b'{"type":"LOGIN","details":{"a":"1"}}\n[1,[2],{"x":[]}]\r\n"text"\n{"r":"[{\\"a\\":1}], 2"}'
    assert json_lines(text, 4) == per_line(text.split(b"\n"))
    # ``],[`` in a string is harmless, but the cheap proof cannot tell: decode line by line.
    assert json_lines(b'{"r":"[1],[2]"}', 1) is None


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
        assert json_lines(text, count) is None, text
        assert per_line(text.split(b"\n")) is None or count != len(text.split(b"\n")), text


TOKENS = [b"{", b"}", b"[", b"]", b",", b":", b'"a"', b'"a":', b"1", b" ", b'{"t":"X"}', b"[1]", b'"],["']


@given(st.lists(st.lists(st.sampled_from(TOKENS), max_size=8).map(b"".join), min_size=1, max_size=6))
def test_json_lines_agrees_with_decoding_line_by_line(lines):
    """Whatever the lines, a result is exactly the line-by-line one; None only when that one fails
    (or the cheap proof does not hold, as for a line with ``],[``)."""
    text = b"\n".join(lines)
    result = json_lines(text, len(lines))
    expected = per_line(lines)
    if result is not None:
        assert result == expected
    elif expected is not None:
        assert any(b"]" in line and b"[" in line for line in lines)
