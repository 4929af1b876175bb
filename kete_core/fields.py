"""Field types for settings models: KETE's values read the way KETE reads them.

Use them inside ``Annotated`` in a :class:`~kete_core.ComponentConfig`::

    class MySinkConfig(ComponentConfig):
        mode: Annotated[Literal["fast", "safe"], Lowercase] = "safe"
        brokers: CommaList = []
        timeout: Duration = 10.0
        max_bytes: Size | None = None

Each carries the JSON schema ``kete schema`` prints for it, so that editors accept what kete accepts
(``"500ms"`` for a duration, ``"a, b"`` for a list).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from kete_core.units import DURATION_PATTERN, SIZE_PATTERN, parse_duration, parse_size


def _lowercase(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _comma_list(value: Any) -> Any:
    return [item.strip() for item in value.split(",") if item.strip()] if isinstance(value, str) else value


Lowercase = BeforeValidator(_lowercase)
"""Text is trimmed and lower-cased before validation (``" GZIP "`` → ``"gzip"``), as KETE reads its
choice settings; other values pass unchanged. Put it beside a ``Literal``."""

CommaList = Annotated[
    list[str],
    BeforeValidator(_comma_list),
    WithJsonSchema({
        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}],
        "description": "a list, or its items separated by commas",
    }),
]  # fmt: skip
"""A list of strings, also written as one comma-separated string (``"a, b,,c"`` → ``["a", "b", "c"]``):
entries trimmed, blank ones dropped."""

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(ge=0),
    WithJsonSchema({
        "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": DURATION_PATTERN}],
        "description": "seconds, or a duration: 500ms, 2s, 1m, PT2S",
    }),
]  # fmt: skip
"""A setting in seconds, written as ``500ms``, ``2s``, ``PT2S`` or a number of seconds."""

Size = Annotated[
    int,
    BeforeValidator(parse_size),
    Field(ge=0),
    WithJsonSchema({
        "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": SIZE_PATTERN}],
        "description": "bytes, or a size: 1048576, 100MB, 64MiB",
    }),
]  # fmt: skip
"""A setting in bytes, written as ``1048576``, ``100MB`` or ``64MiB``."""
