"""Settings of the ``file`` sink."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from kete_core import ComponentConfig, Lowercase, Size


class FileSinkConfig(ComponentConfig):
    """Settings of the ``file`` sink."""

    path: str
    fsync: Literal["never", "batch"] = "never"
    max_bytes: Size | None = None
    backups: int = Field(default=5, ge=0)
    max_open_files: int = Field(default=64, gt=0)
    framing: Annotated[Literal["lines", "length-prefixed"], Lowercase] = "lines"
    """``lines``: each payload and a newline (JSON lines); ``length-prefixed``: each payload after its
    length as 4 bytes, big-endian, for binary and multi-line formats."""
