from __future__ import annotations

import pytest

from kete_core.units import parse_duration, parse_size


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
