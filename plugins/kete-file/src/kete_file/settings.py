"""Settings of the ``file`` sink."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from kete_core import ComponentConfig, parse_size


class FileSinkConfig(ComponentConfig):
    """Settings of the ``file`` sink."""

    path: str
    fsync: Literal["never", "batch"] = "never"
    max_bytes: Annotated[int | None, BeforeValidator(lambda value: None if value is None else parse_size(value))] = None
    backups: int = Field(default=5, ge=0)
    max_open_files: int = Field(default=64, gt=0)
