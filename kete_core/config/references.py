"""``${env:NAME}`` and ``${file:/path}`` in configuration values: secrets kept out of the file.

Any string value may hold references; each is replaced by the environment variable's value or by
the file's content (one trailing line break removed, as ``$(< file)`` does), so a Kubernetes secret
works mounted as a variable or as a file. A secret setting (see
:func:`~kete_core.validation.is_secret`) written as a shell-style ``${NAME}`` is refused with the
right spelling: that text would otherwise be sent as the password. Errors name the setting and the
variable or file, never the value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kete_core.config.tree import Tree
from kete_core.errors import ConfigError
from kete_core.validation import is_secret

_REFERENCE = re.compile(r"\$\{(env|file):([^}]*)\}")
_SHELL_STYLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


def _strings(tree: Tree, prefix: str = "") -> Iterator[tuple[dict[str, Any], str, str]]:
    """``(table, key, config path)`` of every string value in *tree*."""
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _strings(value, f"{path}.")
        elif isinstance(value, str):
            yield tree, key, path


def _read(path: str, setting: str) -> str:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file '{path}' it refers to", path=setting, cause=exc) from exc
    return text.removesuffix("\n").removesuffix("\r")


def referenced_variables(tree: Tree) -> set[str]:
    """The environment variables that values of *tree* refer to with ``${env:NAME}``."""
    return {
        match.group(2).strip()
        for table, key, _path in _strings(tree)
        for match in _REFERENCE.finditer(table[key])
        if match.group(1) == "env"
    }


def resolve_references(tree: Tree, environ: Mapping[str, str] | None = None) -> list[ConfigError]:
    """Replace the references in the values of *tree* (in place); return an error for each that
    cannot be resolved (the value is then left as written)."""
    environ = os.environ if environ is None else environ
    errors: list[ConfigError] = []
    for table, key, path in list(_strings(tree)):
        text = table[key]
        shell = _SHELL_STYLE.fullmatch(text.strip())
        if shell and is_secret(path):
            errors.append(
                ConfigError(
                    f"'{text.strip()}' is not read from the environment",
                    path=path,
                    hint=f'write "${{env:{shell.group(1)}}}" (or "${{file:/path}}" for a secret file)',
                )
            )
            continue
        if "${" not in text:
            continue

        def value(match: re.Match[str], path: str = path) -> str:
            source, name = match.group(1), match.group(2).strip()
            if not name:
                raise ConfigError(f"'${{{source}:}}' names no {'variable' if source == 'env' else 'file'}", path=path)
            if source == "file":
                return _read(name, path)
            if name not in environ:
                raise ConfigError(f"the environment variable '{name}' it refers to is not set", path=path)
            return environ[name]

        try:
            table[key] = _REFERENCE.sub(value, text)
        except ConfigError as exc:
            errors.append(exc)
    return errors
