"""The configuration's envelope, checked with JSON Schema before any plugin is imported.

The envelope is the part kete itself defines: the top-level tables, what a route and a source
must contain, the matcher and match-mode syntax. Each component's own settings are checked
afterwards by the component's pydantic model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from kete_core.errors import ConfigError, did_you_mean

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_KIND = {"type": "string", "minLength": 1, "description": "Which installed component to use."}
_MATCHERS = {
    "type": "object",
    "description": "Matchers by id: '<kind>:<pattern>' or '<kind>:not:<pattern>'.",
    "additionalProperties": {"type": "string", "pattern": r"^\s*[A-Za-z0-9_\-]+\s*:.*\S"},
}
_MODE = {"type": "string", "pattern": r"^\s*(?i:any|all)\s*$", "description": "'any' (default) or 'all'."}
_BOOLEAN = {"type": ["boolean", "string"], "pattern": r"^\s*(?i:true|false)\s*$"}

ROUTE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "enabled": _BOOLEAN,
        "realm-matchers": _MATCHERS,
        "event-matchers": _MATCHERS,
        "realm-match-mode": _MODE,
        "event-match-mode": _MODE,
        "serializer": {"type": "object", "properties": {"kind": _KIND}},
        "destination": {"type": "object", "properties": {"kind": _KIND}, "required": ["kind"]},
        "retry": {"type": "object"},
        "dead-letter": {"type": "object"},
    },
    "required": ["destination"],
    "additionalProperties": False,
}
SOURCE: dict[str, Any] = {"type": "object", "properties": {"kind": _KIND}, "required": ["kind"]}
ENVELOPE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "kete configuration",
    "type": "object",
    "properties": {
        "kete": {"type": "object", "description": "Global settings."},
        "sources": {
            "type": "object",
            "propertyNames": {"pattern": NAME_PATTERN},
            "additionalProperties": SOURCE,
        },
        "routes": {
            "type": "object",
            "propertyNames": {"pattern": NAME_PATTERN},
            "additionalProperties": ROUTE,
        },
    },
    "additionalProperties": False,
}


_TYPE_NAMES = {"object": "a table", "string": "a string", "boolean": "true or false", "array": "a list"}


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, list):
        return "a list"
    return "a number" if isinstance(value, int | float) else "a string"


def _path(error: ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path)


def _describe(error: ValidationError) -> ConfigError:
    path = _path(error)
    schema, instance = error.schema, error.instance
    if error.validator == "additionalProperties" and isinstance(schema, Mapping) and isinstance(instance, Mapping):
        allowed = list(schema.get("properties", {}))
        extra = [key for key in instance if key not in allowed]
        hints = [hint for key in extra if (hint := did_you_mean(key, allowed))]
        names = ", ".join(f"'{key}'" for key in extra)
        return ConfigError(
            f"unknown key{'s' if len(extra) > 1 else ''} {names}",
            path=path or None,
            hint="; ".join(hints) or f"allowed here: {', '.join(allowed)}",
        )
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return ConfigError(f"'{missing}' is required", path=f"{path}.{missing}" if path else missing)
    if error.validator == "pattern" and error.schema is _MATCHERS["additionalProperties"]:
        return ConfigError(
            f"malformed matcher {error.instance!r}",
            path=path,
            hint="write '<kind>:<pattern>' or '<kind>:not:<pattern>', e.g. 'glob:LOGIN*'",
        )
    if error.validator == "pattern" and error.schema is _MODE:
        return ConfigError(f"unknown match mode {error.instance!r}", path=path, hint="use 'any' or 'all'")
    if error.validator == "pattern" and error.schema is _BOOLEAN:
        return ConfigError("expected true or false", path=path)
    if error.validator == "type":
        # The value itself is not shown: it may be a secret typed in the wrong place.
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        names = " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in expected)
        return ConfigError(f"expected {names}, not {_type_name(error.instance)}", path=path or None)
    if "propertyNames" in error.schema_path:
        return ConfigError(f"invalid name {error.instance!r}", path=path, hint="use letters, digits, '_', '-', '.'")
    return ConfigError(error.message, path=path or None)


def check_envelope(tree: dict[str, Any]) -> list[ConfigError]:
    """Every envelope error of *tree*, each with its config path, in a stable order."""
    validator = Draft202012Validator(ENVELOPE)
    errors = sorted(validator.iter_errors(tree), key=lambda error: [str(p) for p in error.absolute_path])
    return [_describe(error) for error in errors]
