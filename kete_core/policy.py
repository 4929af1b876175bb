"""What happens when a sink fails: the route's retry settings and the error decision."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import BeforeValidator, Field

from kete_core.contracts import ComponentConfig
from kete_core.units import parse_duration


class ErrorAction(enum.Enum):
    """A decision of :func:`~kete_core.hookspecs.kete_on_emit_error`."""

    RETRY = "retry"
    GIVE_UP = "give-up"


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
"""A setting in seconds, written as ``500ms``, ``2s``, ``PT2S`` or a number of seconds."""


class RetrySettings(ComponentConfig):
    """``routes.<name>.retry.*``, with the original KETE's names and defaults: 3 attempts in all
    (the first included), 500 ms apart."""

    enabled: bool = True
    max_attempts: int = Field(default=3, gt=0)
    wait_duration: Duration = 0.5

    @property
    def attempts(self) -> int:
        """How many attempts a message gets in all."""
        return self.max_attempts if self.enabled else 1
