"""KETE's matchers: ``list``, ``glob``, ``regex`` and ``sql``; all case-insensitive, whole-value."""

from __future__ import annotations

import re

from kete_core import Matcher


class ListMatcher(Matcher):
    """``list:LOGIN, LOGOUT``: one of the comma-separated values, trimmed; blank entries dropped."""

    def __init__(self, pattern: str) -> None:
        super().__init__(pattern)
        self.values = frozenset(value.strip().casefold() for value in pattern.split(",") if value.strip())
        if not self.values:
            raise ValueError("the list has no values")

    def matches(self, value: str) -> bool:
        return value.casefold() in self.values


def _wildcards(pattern: str, wildcards: dict[str, str]) -> re.Pattern[str]:
    """A whole-value, case-insensitive regex for *pattern*, where each key of *wildcards* stands
    for its regex, a backslash makes the next character literal, and all else is literal."""
    out = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars, "\\")))
        else:
            out.append(wildcards.get(char) or re.escape(char))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


class GlobMatcher(Matcher):
    """``glob:LOGIN*``: ``*`` any run of characters, ``?`` exactly one, ``\\`` escapes."""

    def __init__(self, pattern: str) -> None:
        super().__init__(pattern)
        self.regex = _wildcards(pattern, {"*": ".*", "?": "."})

    def matches(self, value: str) -> bool:
        return self.regex.fullmatch(value) is not None


class SqlMatcher(Matcher):
    """``sql:LOGIN%``: SQL LIKE; ``%`` any run of characters, ``_`` exactly one, ``\\`` escapes."""

    def __init__(self, pattern: str) -> None:
        super().__init__(pattern)
        self.regex = _wildcards(pattern, {"%": ".*", "_": "."})

    def matches(self, value: str) -> bool:
        return self.regex.fullmatch(value) is not None


class RegexMatcher(Matcher):
    """``regex:UPDATE_.*``: a regular expression that must match the whole value."""

    def __init__(self, pattern: str) -> None:
        super().__init__(pattern)
        try:
            self.regex = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(str(exc)) from exc

    def matches(self, value: str) -> bool:
        return self.regex.fullmatch(value) is not None
