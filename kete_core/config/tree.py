"""Building, normalising and merging nested configuration trees."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kete_core.errors import ConfigError

Tree = dict[str, Any]


def set_path(tree: Tree, keys: list[str], value: Any, *, where: str) -> None:
    """Set ``tree[k1][k2]...`` = *value*, creating tables; a key that is both a value and a table
    is an error naming *where*."""
    node = tree
    for depth, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"'{'.'.join(keys[: depth + 1])}' is set to a value and also used as a table", path=where)
        node = child
    last = keys[-1]
    if isinstance(node.get(last), dict) and not isinstance(value, dict):
        raise ConfigError(f"'{'.'.join(keys)}' is a table and is also set to a value", path=where)
    if isinstance(value, dict) and isinstance(node.get(last), dict):
        merge(node[last], value)
    else:
        node[last] = value


def from_dotted(pairs: Iterable[tuple[str, Any, str]]) -> Tree:
    """A tree from ``(dotted.key, value, where)`` triples."""
    tree: Tree = {}
    for key, value, where in pairs:
        parts = key.split(".")
        if not all(parts):
            raise ConfigError(f"malformed key '{key}': empty segment", path=where)
        set_path(tree, parts, value, where=where)
    return tree


def canonical(tree: Mapping[str, Any], *, where: str = "") -> Tree:
    """Split keys that contain dots (TOML ``"bootstrap.servers" = ...``) into nested tables, so a
    quoted dotted key and a nested table mean the same thing."""
    result: Tree = {}
    for key, value in tree.items():
        path = f"{where}.{key}" if where else key
        normal = canonical(value, where=path) if isinstance(value, Mapping) else value
        set_path(result, key.split("."), normal, where=path)
    return result


def loose(key: str) -> str:
    """*key* as environment variable names can spell it: lower case, ``_`` for ``-``."""
    return key.lower().replace("-", "_")


def merge(base: Tree, override: Mapping[str, Any], *, loose_keys: bool = False) -> Tree:
    """Merge *override* into *base* in place (tables merge, values replace) and return *base*.

    With *loose_keys*, an override key matches an existing key that differs only in case or in
    ``-`` versus ``_`` (environment variable names cannot say which).
    """
    for key, value in override.items():
        target = key
        if loose_keys and key not in base:
            target = next((existing for existing in base if loose(existing) == loose(key)), key)
        if isinstance(value, Mapping) and isinstance(base.get(target), dict):
            merge(base[target], value, loose_keys=loose_keys)
        else:
            base[target] = dict(value) if isinstance(value, Mapping) else value
    return base


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The inverse of :func:`from_dotted`: ``{"a": {"b": 1}}`` → ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat
