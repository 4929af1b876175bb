"""Settings of the ``file`` sink."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kete_core import ComponentConfig, Size


class FileSinkConfig(ComponentConfig):
    """Settings of the ``file`` sink."""

    path: str
    fsync: Literal["never", "batch"] = "never"
    max_bytes: Size | None = None
    backups: int = Field(default=5, ge=0)
    max_open_files: int = Field(default=64, gt=0)
