"""Reading a configuration file, applying the environment and checking the envelope."""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from kete_core.config.envelope import check_envelope
from kete_core.config.environment import apply_environment, tree_keys
from kete_core.config.properties import parse_properties
from kete_core.config.tree import Tree, canonical, from_dotted
from kete_core.contracts import ComponentConfig
from kete_core.errors import ConfigError, ConfigErrors, KeteError
from kete_core.fields import CommaList, Lowercase
from kete_core.policy import Duration
from kete_core.validation import settings_errors


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


def state_home() -> Path:
    """``$XDG_STATE_HOME``, else ``~/.local/state``."""
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")


@dataclass(frozen=True)
class KeteConfig:
    """A configuration whose envelope is valid; component settings are checked at assembly.

    :ivar origin: the file it was read from.
    :ivar settings: ``[kete]``.
    :ivar sources: ``[sources.<name>]`` tables, raw.
    :ivar routes: ``[routes.<name>]`` tables, raw.
    """

    origin: str
    settings: KeteSettings
    sources: dict[str, dict[str, Any]]
    routes: dict[str, dict[str, Any]]

    @property
    def data_dir(self) -> Path:
        """``[kete] data-dir``, else a folder named after the configuration file (and a hash of its
        absolute path, so two files of the same name do not share a spool)."""
        if self.settings.data_dir is not None:
            return self.settings.data_dir
        origin = Path(self.origin).resolve()
        digest = hashlib.sha256(str(origin).encode()).hexdigest()[:10]
        return state_home() / "kete" / f"{origin.stem}-{digest}"


def read_tree(path: Path) -> Tree:
    """The configuration tree of a ``.toml`` or ``.properties`` file, before the environment."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("cannot read the configuration file", path=str(path), cause=exc) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("the configuration file is not UTF-8", path=str(path), cause=exc) from exc
    if path.suffix == ".toml":
        try:
            return canonical(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from exc
    if path.suffix == ".properties":
        pairs = []
        for number, key, value in parse_properties(text):
            keys = tree_keys(key)
            if keys is None:
                raise ConfigError(
                    f"unknown property '{key}'",
                    path=f"{path}:{number}",
                    hint="kete's properties start with 'kete.' (kete.routes.<route>..., kete.enabled)",
                )
            pairs.append((".".join(keys), value, f"{path}:{number}"))
        return from_dotted(pairs)
    raise ConfigError(
        f"unknown configuration format '{path.suffix}'",
        path=str(path),
        hint="use a .toml or .properties file",
    )


def read_config(path: str | Path, environ: Mapping[str, str] | None = None) -> tuple[KeteConfig, list[KeteError]]:
    """Read *path* and apply environment overrides; return the configuration and its envelope
    errors. Routes and sources with envelope errors are left out of the configuration, so the
    rest can still be checked.

    :raises ConfigErrors: when the file cannot be read or parsed at all.
    """
    path = Path(path)
    try:
        tree = apply_environment(read_tree(path), environ)
    except KeteError as exc:
        raise ConfigErrors([exc]) from exc
    errors: list[KeteError] = list(check_envelope(tree))
    for error in errors:
        if error.path is None:  # a top-level problem: the place is the file itself
            error.path = str(path)
    broken = {tuple((error.path or "").split(".")[:2]) for error in errors}
    settings = KeteSettings()
    if isinstance(tree.get("kete", {}), dict):
        try:
            settings = KeteSettings.model_validate(tree.get("kete", {}))
        except ValidationError as exc:
            errors.extend(settings_errors(exc, "kete", KeteSettings))

    def table(section: str) -> dict[str, dict[str, Any]]:
        items = tree.get(section, {})
        if not isinstance(items, dict):
            return {}
        return {
            name: value for name, value in items.items() if (section, name) not in broken and (section,) not in broken
        }

    config = KeteConfig(origin=str(path), settings=settings, sources=table("sources"), routes=table("routes"))
    return config, errors


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> KeteConfig:
    """Read *path*, apply environment overrides and check the envelope.

    :raises ConfigErrors: with every error found, each naming its config path.
    """
    config, errors = read_config(path, environ)
    if errors:
        raise ConfigErrors(errors)
    return config
