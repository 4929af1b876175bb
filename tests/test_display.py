"""The two rules for text kete shows: no credentials of an address, no control characters."""

from __future__ import annotations

import pytest

from kete_core.display import escape_controls, redact, shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("POST http://user:pw@h:1/x: HTTP 500", "POST http://***@h:1/x: HTTP 500"),
        ("https://tok@h/a https://u:p@ss@h2/?q=a@b", "https://***@h/a https://***@h2/?q=a@b"),
        ("kafka+ssl://u:p@broker:9093", "kafka+ssl://***@broker:9093"),
        ("mail alice@example.org at http://h/p@q", "mail alice@example.org at http://h/p@q"),
        ("no address", "no address"),
    ],
)
def test_redact_hides_the_user_information_of_every_url(text, expected):
    assert redact(text) == expected


def test_escape_controls_makes_any_text_one_inert_line():
    hostile = "a\nb\r\tc\x1b]0;title\x07d\x9b2J\x7f\u2028é€"
    assert escape_controls(hostile) == "a\\nb\\r\\tc\\x1b]0;title\\x07d\\x9b2J\\x7f\\u2028é€"
    assert escape_controls("line one\nline \x1b two", keep_newlines=True) == "line one\nline \\x1b two"
    assert escape_controls("plain") == "plain"
    assert shown("http://u:p@h/\n") == "http://***@h/\\n"
