from __future__ import annotations

import re

import pytest

from kete_core.units import DURATION_PATTERN, SIZE_PATTERN, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("2", 2.0), ("2s", 2.0), ("1m", 60.0), ("1h", 3600.0), ("PT2S", 2.0), ("P1D", 86400.0),
     ("PT1M30S", 90.0), ("250us", 0.00025), (1.5, 1.5), ("1d", 86400.0)],
)  # fmt: skip
def test_durations_in_ketes_forms(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["soon", "5 parsecs", "P", "", "-1s"])
def test_bad_durations_say_so(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_sizes():
    assert parse_size("100MB") == 100_000_000
    assert parse_size("64MiB") == 64 * 1024 * 1024
    assert parse_size(12) == 12
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")


@pytest.mark.parametrize(
    "text",
    ["500ms", "2", " 2.5 s ", "1M", "3h", "2d", "1w", "1y", "10ns", "7us", "PT2S", "p1dt2h", "PT1.5M", "P1D",
     "soon", "5 parsecs", "", "-1s", "2 sec", "PT2X", "1.s", "ms"],
)  # fmt: skip
def test_the_schema_pattern_of_durations_reads_what_the_parser_reads(text):
    assert bool(re.fullmatch(DURATION_PATTERN, text)) == parses(parse_duration, text)


@pytest.mark.parametrize("text", ["100", "100MB", " 64 MiB ", "1kb", "1GiB", "5b", "lots", "1.5MB", "-1", "1TB", ""])
def test_the_schema_pattern_of_sizes_reads_what_the_parser_reads(text):
    assert bool(re.fullmatch(SIZE_PATTERN, text)) == parses(parse_size, text)


def parses(parse, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("value", ["hunter2", "correct horse battery staple"])
def test_errors_never_quote_the_value(value):
    for parse in (parse_duration, parse_size):
        with pytest.raises(ValueError) as caught:
            parse(value)
        assert value not in str(caught.value)
