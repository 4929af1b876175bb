"""Turning pydantic's validation errors into kete's error format."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kete_core.errors import ConfigError, ConfigErrors, PluginInfo, did_you_mean

Model = TypeVar("Model", bound=BaseModel)


def _aliases(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


_SECRET_WORDS = ("password", "secret", "token", "key", "sasl", "jaas", "credential", "auth")


def is_secret(path: str) -> bool:
    """True for settings whose values must never be shown (passwords, tokens, keys, SASL)."""
    lowered = path.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _message(error: Any) -> str:
    """pydantic's message with the typed text taken out: a validator may quote its input, and a
    password typed under the wrong name must not end up in a log."""
    message = str(error["msg"])
    value = error.get("input")
    if not isinstance(value, str) or not value.strip():
        return message
    for quoted in (repr(value), f'"{value}"'):
        message = message.replace(quoted, "'…'")
    if len(value) >= 4:  # shorter text would match words of the message itself
        message = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", "…", message)
    return message


def _shown(error: Any) -> str:
    """`` (got 5)`` for a number or boolean of a setting that is not secret. Text is never echoed:
    a password typed under the wrong name must not end up in a log."""
    value = error.get("input")
    where = ".".join(str(part) for part in error["loc"])
    if not isinstance(value, int | float) or error["type"] == "missing" or is_secret(where):
        return ""
    return f" (got {value!r})"


def settings_errors(
    exc: ValidationError, path: str, model: type[BaseModel], plugin: PluginInfo | None = None
) -> list[ConfigError]:
    """One :class:`ConfigError` per pydantic error, named by config path, with a did-you-mean for
    unknown settings."""
    errors = []
    for error in exc.errors(include_url=False):
        where = ".".join([path, *(str(part) for part in error["loc"])])
        if error["type"] == "extra_forbidden":
            name = str(error["loc"][-1])
            errors.append(
                ConfigError(
                    f"unknown setting '{name}'",
                    path=where,
                    plugin=plugin,
                    hint=did_you_mean(name, _aliases(model))
                    or (f"known settings: {', '.join(_aliases(model))}" if _aliases(model) else "it takes no settings"),
                )
            )
        else:
            errors.append(ConfigError(f"{_message(error)}{_shown(error)}", path=where, plugin=plugin))
    return errors


def validate_settings(model: type[Model], raw: dict[str, Any], path: str, plugin: PluginInfo | None = None) -> Model:
    """*raw* validated by *model*; raise :class:`ConfigErrors` naming each bad setting's path."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigErrors(settings_errors(exc, path, model, plugin)) from exc
