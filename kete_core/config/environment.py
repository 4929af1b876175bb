"""Environment variables that override the configuration file, read with pydantic-settings.

Two spellings, both case-insensitive in their ``KETE_`` form:

- the literal names KETE's documentation uses, ``kete.routes.logins.destination.kind=file``
  (set them with ``env 'kete.routes...=...' kete run ...``, Docker or systemd);
- ``KETE_ROUTES__LOGINS__DESTINATION__KIND=file``: ``__`` separates levels, ``_`` inside a
  level stands for ``-`` (``KETE_ROUTES__LOGINS__EVENT_MATCHERS__LOGIN``), and names match
  existing routes, sources and settings regardless of case and of ``-`` versus ``_``.
  ``KETE_LOG_LEVEL=debug`` sets ``[kete] log-level``.

The literal form wins over the ``KETE_`` form; both win over the file.

Only names that reach into the tree are read: ``routes``, ``sources`` and the ``[kete]``
settings. Anything else that starts with ``KETE_`` or ``kete.`` (Kubernetes sets
``KETE_SERVICE_HOST``, ``KETE_PORT``, … in every pod of a namespace with a Service named
``kete``; ``kete keycloak enable-events`` reads ``KETE_KEYCLOAK_PASSWORD``) is left alone and
named in one warning.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from kete_core.config.settings import KeteSettings
from kete_core.config.tree import Tree, from_dotted, loose, merge

TOP_LEVEL = ("routes", "sources")


def _settings_names() -> frozenset[str]:
    return frozenset(loose(field.alias or name) for name, field in KeteSettings.model_fields.items())


def tree_keys(key: str) -> list[str] | None:
    """Where a KETE property name goes in the tree: ``kete.routes.x.y`` → ``routes.x.y``,
    ``kete.enabled`` → ``kete.enabled``; None for names that are not kete's."""
    if not key.startswith("kete.") or len(key) <= len("kete."):
        return None
    rest = key[len("kete.") :].split(".")
    return rest if rest[0] in TOP_LEVEL else ["kete", *rest]


def _prefixed_keys(name: str) -> list[str] | None:
    """Where a ``KETE_`` variable goes in the tree, or None for names that are not kete's."""
    if not name.upper().startswith("KETE_") or len(name) <= len("KETE_"):
        return None
    levels = [level.lower().replace("_", "-") for level in name[len("KETE_") :].split("__")]
    return levels if levels[0] in TOP_LEVEL else ["kete", *levels]


def _reaches_the_tree(keys: list[str] | None) -> bool:
    """True for keys under ``routes``, ``sources`` or a ``[kete]`` setting."""
    if keys is None:
        return False
    return keys[0] in TOP_LEVEL or (len(keys) > 1 and loose(keys[1]) in _settings_names())


def ignored_variables(environ: Mapping[str, str]) -> list[str]:
    """Names that look like kete's (``KETE_…``, ``kete.…``) but set nothing, sorted."""
    ignored = []
    for name in environ:
        keys = tree_keys(name) or _prefixed_keys(name)
        if keys is not None and not _reaches_the_tree(keys):
            ignored.append(name)
    return sorted(ignored)


class _Environ(PydanticBaseSettingsSource):
    """A source that reads whole trees from a mapping of environment variables."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False


class _LiteralNames(_Environ):
    """``kete.routes...`` variables, exactly as KETE spells them."""

    def __call__(self) -> dict[str, Any]:
        pairs = []
        for name, value in sorted(self.environ.items()):
            keys = tree_keys(name)
            if _reaches_the_tree(keys):
                assert keys is not None
                pairs.append((".".join(keys), value.strip(), f"environment variable {name}"))
        return from_dotted(pairs)


class _PrefixedNames(_Environ):
    """``KETE_ROUTES__X__...`` variables."""

    def __call__(self) -> dict[str, Any]:
        pairs = []
        for name, value in sorted(self.environ.items()):
            keys = _prefixed_keys(name)
            if not _reaches_the_tree(keys):
                continue
            assert keys is not None
            pairs.append((".".join(keys), value.strip(), f"environment variable {name}"))
        return from_dotted(pairs)


class EnvironmentOverrides(BaseSettings):
    """The configuration trees that environment variables set, merged by precedence."""

    model_config = SettingsConfigDict(extra="ignore")

    kete: dict[str, Any] = {}
    routes: dict[str, Any] = {}
    sources: dict[str, Any] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        environ: Mapping[str, str] = init_settings.init_kwargs.get("environ_", os.environ)  # type: ignore[attr-defined]
        return _LiteralNames(settings_cls, environ), _PrefixedNames(settings_cls, environ)


def apply_environment(tree: Tree, environ: Mapping[str, str] | None = None) -> Tree:
    """Merge the environment's overrides into *tree* (in place) and return it."""
    overrides = EnvironmentOverrides(environ_=environ if environ is not None else os.environ)  # type: ignore[call-arg]
    for section in ("kete", *TOP_LEVEL):
        value = getattr(overrides, section)
        if value:
            merge(tree.setdefault(section, {}), value, loose_keys=True)
    return tree
