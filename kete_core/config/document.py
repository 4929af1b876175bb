"""Reading a configuration file, applying the environment and checking the envelope."""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kete_core.config.envelope import check_envelope
from kete_core.config.environment import apply_environment, ignored_variables, tree_keys
from kete_core.config.properties import PropertiesError, decode, parse_properties
from kete_core.config.references import referenced_variables, resolve_references
from kete_core.config.settings import KeteSettings
from kete_core.config.tree import Tree, canonical, from_dotted, set_path
from kete_core.errors import ConfigError, ConfigErrors, ConfigWarning, KeteError, did_you_mean
from kete_core.validation import settings_errors


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
    :ivar warnings: what was read but probably not meant (environment variables that set nothing).
    """

    origin: str
    settings: KeteSettings
    sources: dict[str, dict[str, Any]]
    routes: dict[str, dict[str, Any]]
    warnings: tuple[ConfigWarning, ...] = ()

    @property
    def data_dir(self) -> Path:
        """``[kete] data-dir``, else a folder named after the configuration file (and a hash of its
        absolute path, so two files of the same name do not share a spool)."""
        if self.settings.data_dir is not None:
            return self.settings.data_dir
        return state_home() / "kete" / data_dir_name(Path(self.origin))


def data_dir_name(origin: Path) -> str:
    """The name of the default data dir of the configuration file *origin*: its stem and a hash of
    its absolute path."""
    origin = origin.resolve()
    return f"{origin.stem}-{hashlib.sha256(str(origin).encode()).hexdigest()[:10]}"


def read_tree(path: Path) -> Tree:
    """The configuration tree of a ``.toml`` or ``.properties`` file, before the environment."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError("cannot read the configuration file", path=str(path), cause=exc) from exc
    if path.suffix == ".toml":
        try:
            return canonical(tomllib.loads(data.decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise ConfigError("the configuration file is not UTF-8", path=str(path), cause=exc) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from exc
    if path.suffix == ".properties":
        return _properties_tree(path, decode(data))
    raise ConfigError(
        f"unknown configuration format '{path.suffix}'",
        path=str(path),
        hint="use a .toml or .properties file",
    )


def _properties_tree(path: Path, text: str) -> Tree:
    try:
        properties = parse_properties(text)
    except PropertiesError as exc:
        raise ConfigError(str(exc), path=f"{path}:{exc.line}") from exc
    pairs = []
    legacy_enabled: list[tuple[str, str]] = []
    for number, key, value in properties:
        where = f"{path}:{number}"
        if key == "enabled":
            # KETE's early releases read an unprefixed `enabled`; it still switches KETE off.
            legacy_enabled.append((value, where))
            continue
        keys = tree_keys(key)
        if keys is None:
            raise ConfigError(
                f"unknown property '{key}'",
                path=where,
                hint="kete's properties start with 'kete.' (kete.routes.<route>..., kete.enabled)",
            )
        pairs.append((".".join(keys), value, where))
    tree = from_dotted(pairs)
    for value, where in legacy_enabled:
        if value.lower() != "true":  # either spelling set to false disables; a bad value is checked as kete.enabled
            set_path(tree, ["kete", "enabled"], value, where=where)
    return tree


def read_config(path: str | Path, environ: Mapping[str, str] | None = None) -> tuple[KeteConfig, list[KeteError]]:
    """Read *path* and apply environment overrides; return the configuration and its envelope
    errors. Routes and sources with envelope errors stay in the configuration (those that are
    not tables at all are left out), so that assembly can check the rest of them.

    :raises ConfigErrors: when the file cannot be read or parsed at all.
    """
    path = Path(path)
    environ = os.environ if environ is None else environ
    try:
        tree = apply_environment(read_tree(path), environ)
    except KeteError as exc:
        raise ConfigErrors([exc]) from exc
    warnings = _ignored_environment(environ, referenced_variables(tree))
    errors: list[KeteError] = [*resolve_references(tree, environ), *check_envelope(tree)]
    for error in errors:
        if error.path is None:  # a top-level problem: the place is the file itself
            error.path = str(path)
    settings = KeteSettings()
    if isinstance(tree.get("kete", {}), dict):
        try:
            settings = KeteSettings.model_validate(tree.get("kete", {}))
        except ValidationError as exc:
            errors.extend(settings_errors(exc, "kete", KeteSettings))

    def table(section: str) -> dict[str, dict[str, Any]]:
        # Tables with errors inside stay: assembly checks the rest of them, so that one pass
        # reports every error. Only what is not a table at all is left out.
        items = tree.get(section, {})
        if not isinstance(items, dict):
            return {}
        return {name: value for name, value in items.items() if isinstance(value, dict)}

    config = KeteConfig(
        origin=str(path), settings=settings, sources=table("sources"), routes=table("routes"), warnings=warnings
    )
    return config, errors


def _ignored_environment(environ: Mapping[str, str], referenced: set[str]) -> tuple[ConfigWarning, ...]:
    """One warning naming the ``KETE_…``/``kete.…`` variables that set nothing (Kubernetes service
    variables, other commands' variables), unless a value refers to them."""
    ignored = [name for name in ignored_variables(environ) if name not in referenced]
    if not ignored:
        return ()
    known = [f"KETE_{name.upper()}" for name in KeteSettings.model_fields]
    typos = [f"{name}: {hint}" for name in ignored if (hint := did_you_mean(name.upper(), known, cutoff=0.85))]
    return (
        ConfigWarning(
            f"environment variable{'s' if len(ignored) > 1 else ''} ignored: {', '.join(ignored)}",
            path="environment",
            hint="; ".join(typos)
            or "kete reads KETE_ROUTES__…, KETE_SOURCES__… and the [kete] settings (KETE_LOG_LEVEL, …)",
        ),
    )


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> KeteConfig:
    """Read *path*, apply environment overrides and check the envelope.

    :raises ConfigErrors: with every error found, each naming its config path.
    """
    config, errors = read_config(path, environ)
    if errors:
        raise ConfigErrors(errors)
    return config
