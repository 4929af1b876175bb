"""Durations and sizes as users write them in settings (``500ms``, ``PT2S``, ``10MiB``), and the
patterns of both for ``kete schema``."""

from __future__ import annotations

import re

_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0,
    "w": 604800.0, "y": 31536000.0,
}  # fmt: skip
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE = re.compile(r"^\s*(\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_duration(value: str | float) -> float:
    """Seconds from KETE's duration forms: bare digits are seconds; suffixes ``ns us ms s m h d w y``;
    ISO-8601 (``PT2S``, ``P1D``). Raise ``ValueError`` for anything else; its message never quotes
    the value (it may be a secret typed into the wrong setting)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise ValueError("not a duration (write e.g. 500ms, 2s, 1m or PT2S)")
    text = value.strip()
    iso = _ISO_DURATION.match(text)
    if iso and text.upper() not in ("P", "PT"):
        parts = {key: float(number) for key, number in iso.groupdict().items() if number}
        return parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)
    match = _DURATION.match(text)
    if not match or match.group(2).lower() not in ("", *_DURATION_UNITS):
        raise ValueError("not a duration (write e.g. 500ms, 2s, 1m or PT2S)")
    number, unit = float(match.group(1)), match.group(2).lower() or "s"
    return number * _DURATION_UNITS[unit]


def parse_size(value: str | int) -> int:
    """Bytes from ``1048576``, ``10MB`` or ``10MiB``. Raise ``ValueError`` for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.match(str(value))
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError("not a size (write e.g. 1048576, 100MB or 64MiB)")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


_NUMBER = r"\d+(?:\.\d+)?"
DURATION_PATTERN = (
    rf"^\s*(?:{_NUMBER}\s*(?:[nNuUmM]?[sS]|[mMhHdDwWyY])?"
    rf"|[pP](?:{_NUMBER}[dD])?(?:[tT](?:{_NUMBER}[hH])?(?:{_NUMBER}[mM])?(?:{_NUMBER}[sS])?)?)\s*$"
)
"""What :func:`parse_duration` reads, as a JSON-schema (ECMA 262) pattern."""
SIZE_PATTERN = r"^\s*\d+\s*(?:[bB]|[kKmMgG][iI]?[bB])?\s*$"
"""What :func:`parse_size` reads, as a JSON-schema (ECMA 262) pattern."""
