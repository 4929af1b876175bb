"""The JSON schema of a kete configuration with every installed component (``kete schema``)."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from kete_core.config import KeteSettings
from kete_core.config.envelope import ENVELOPE
from kete_core.discovery import installed, load
from kete_core.errors import PluginError
from kete_core.policy import RetrySettings


def _embed(model: type[BaseModel], prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    """*model*'s schema, its ``$defs`` hoisted into *defs* under names starting with *prefix*."""
    schema = model.model_json_schema(by_alias=True, ref_template=f"#/$defs/{prefix}{{model}}")
    for name, definition in schema.pop("$defs", {}).items():
        defs[f"{prefix}{name}"] = definition
    return schema


def _by_kind(kind: str, table: dict[str, Any], defs: dict[str, Any], problems: list[str]) -> None:
    """Add to *table* (a ``{"kind": ...}`` object schema) one ``if kind = x then ...`` per installed x."""
    branches = []
    names = []
    for item in installed(kind):
        try:
            cls, _info = load(kind, item.name)
        except PluginError as exc:
            problems.append(str(exc))
            continue
        names.append(item.name)
        settings = _embed(cls.Config, f"{kind}.{item.name}.", defs)
        settings.setdefault("properties", {})["kind"] = {"const": item.name}
        branches.append({"if": {"properties": {"kind": {"const": item.name}}}, "then": settings})
    table["properties"]["kind"] = {**table["properties"]["kind"], "enum": names}
    if branches:
        table["allOf"] = branches


def full_schema() -> tuple[dict[str, Any], list[str]]:
    """The schema, and the problems met while importing installed plugins."""
    schema = copy.deepcopy(ENVELOPE)
    defs: dict[str, Any] = {}
    problems: list[str] = []
    schema["properties"]["kete"] = _embed(KeteSettings, "kete.", defs)
    route = schema["properties"]["routes"]["additionalProperties"]
    route["properties"]["retry"] = _embed(RetrySettings, "retry.", defs)
    _by_kind("sink", route["properties"]["destination"], defs, problems)
    _by_kind("serializer", route["properties"]["serializer"], defs, problems)
    _by_kind("source", schema["properties"]["sources"]["additionalProperties"], defs, problems)
    matchers = ", ".join(item.name for item in installed("matcher"))
    for key in ("realm-matchers", "event-matchers"):
        route["properties"][key]["description"] += f" Installed matcher kinds: {matchers}."
    if defs:
        schema["$defs"] = defs
    return schema, problems
