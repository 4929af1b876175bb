"""Field types for settings models: KETE's values read the way KETE reads them.

Use them inside ``Annotated`` in a :class:`~kete_core.ComponentConfig`::

    class MySinkConfig(ComponentConfig):
        mode: Annotated[Literal["fast", "safe"], Lowercase] = "safe"
        brokers: CommaList = []
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator


def _lowercase(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _comma_list(value: Any) -> Any:
    return [item.strip() for item in value.split(",") if item.strip()] if isinstance(value, str) else value


Lowercase = BeforeValidator(_lowercase)
"""Text is trimmed and lower-cased before validation (``" GZIP "`` → ``"gzip"``), as KETE reads its
choice settings; other values pass unchanged. Put it beside a ``Literal``."""

CommaList = Annotated[list[str], BeforeValidator(_comma_list)]
"""A list of strings, also written as one comma-separated string (``"a, b,,c"`` → ``["a", "b", "c"]``):
entries trimmed, blank ones dropped."""
