"""``[kete]``: the settings of the whole run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from kete_core.contracts import ComponentConfig
from kete_core.fields import CommaList, Duration, Lowercase


class MetricsSettings(ComponentConfig):
    """``[kete.metrics]``: the health and metrics endpoint (``/healthz``, ``/ready``, ``/metrics``)."""

    enabled: bool = False
    address: str = "127.0.0.1:9464"
    """``host:port`` to listen on."""


class KeteSettings(ComponentConfig):
    """``[kete]``: settings of the whole run."""

    enabled: bool = True
    """Master switch, as in KETE: when false, ``kete run`` routes nothing and exits."""
    renderer: str = "kete"
    """The template renderer (``kete.renderers`` entry point)."""
    renderer_settings: dict[str, Any] = {}
    """Settings passed to the renderer's ``Config`` model."""
    disable_plugins: CommaList = []
    """``kete.hooks`` plugins (by distribution name) not to load."""
    log_level: Annotated[Literal["debug", "info", "warning", "error"], Lowercase] = "info"
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per log line, for log collectors."""
    queue_size: int = Field(default=16, gt=0)
    """Batches kept in memory for each route; beyond that, routes read back from the spool."""
    data_dir: Path | None = None
    """Where the spool, checkpoints and dead letters live; default: a folder for this configuration
    file under ``$XDG_STATE_HOME/kete`` (``~/.local/state/kete``)."""
    spool: Literal["disk", "memory"] = "disk"
    """``memory`` keeps the spool in memory: faster, and nothing survives a restart."""
    spool_sync: Literal["normal", "full"] = "normal"
    """``normal`` survives a crash of kete; ``full`` also a power loss (an fsync per batch)."""
    spool_max_events: int = Field(default=1_000_000, gt=0)
    """Events the spool may hold undelivered; when full, sources are slowed down, never dropped."""
    retention: Duration = 7 * 86400.0
    """How long rejected input records are kept for ``kete rejected``."""
    metrics: MetricsSettings = MetricsSettings()
    support_the_project_message: bool = True
    """Accepted from KETE configurations; kete prints no banner."""
