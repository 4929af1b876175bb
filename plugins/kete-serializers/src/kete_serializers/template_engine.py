"""The original's ``TemplateSerializer`` templates: ``${variable}`` and ``${variable:filter}``.

Syntax (Apache Commons Text's ``StringSubstitutor`` as the original sets it up): ``${name}`` is replaced by
the variable's value, escaped with the serializer's ``variable-escape``; ``${name:filter}`` escapes with
*filter* instead (the part after the first ``:``, trimmed, any case); ``$${`` writes ``${``; a ``${``
without its ``}`` is text; ``${name:-default}`` is ``${name}`` (the original never used the default). An
undefined variable or a null value renders empty. Values are inserted once: a ``${…}`` inside an event's
value is text, never a variable (the original expanded it).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from typing import Any

from kete_core import EVENT, Event
from kete_serializers.url_encoding import url_encode

USER_VARIABLES = ("id", "type", "realmId", "realmName", "clientId", "userId", "sessionId", "ipAddress", "error", "time")
ADMIN_VARIABLES = (
    "id", "operationType", "resourceType", "realmId", "realmName", "resourcePath", "representation", "error", "time",
)  # fmt: skip
AUTH_VARIABLES = ("realmId", "realmName", "clientId", "userId", "ipAddress")
KNOWN = frozenset((*USER_VARIABLES, *ADMIN_VARIABLES, *(f"authDetails.{name}" for name in AUTH_VARIABLES)))


def _json(value: str) -> str:
    """The original's ``escapeJson``: quote, backslash and controls (``\\u00xx`` in lower case)."""
    return value.translate(_JSON)


_JSON = {code: f"\\u{code:04x}" for code in range(0x20)}
_JSON.update({ord('"'): '\\"', ord("\\"): "\\\\", 10: "\\n", 13: "\\r", 9: "\\t", 8: "\\b", 12: "\\f"})
_XML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"})


def _csv(value: str) -> str:
    if any(char in value for char in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


ESCAPES: dict[str, Callable[[str], str]] = {
    "none": str,
    "json": _json,
    "json-encode": _json,
    "xml": lambda value: value.translate(_XML),
    "xml-encode": lambda value: value.translate(_XML),
    "csv": _csv,
    "csv-quote": _csv,
    "url": url_encode,
    "url-encode": url_encode,
    "base64": lambda value: base64.b64encode(value.encode()).decode(),
    "b64": lambda value: base64.b64encode(value.encode()).decode(),
}
"""The filters and ``variable-escape`` values, with the original's aliases."""

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}")
Part = str | tuple[str, Callable[[str], str] | None]


def compile_template(text: str) -> list[Part]:
    """*text* as literal parts and ``(variable, filter)`` parts (filter None: the global escape);
    ``ValueError`` naming an unknown variable or filter."""
    parts: list[Part] = []
    position = 0
    for match in _TOKEN.finditer(text):
        parts.append(text[position : match.start()])
        position = match.end()
        if match.group(1) is None:
            parts.append("${")
            continue
        name = match.group(1).split(":-", 1)[0]
        escape = None
        colon = name.find(":")
        if colon > 0:
            name, wanted = name[:colon], name[colon + 1 :].strip().lower()
            escape = ESCAPES.get(wanted)
            if escape is None:
                raise ValueError(f"unknown filter '{wanted}' in ${{{match.group(1)}}}; filters: {', '.join(ESCAPES)}")
        if name not in KNOWN and not (name.startswith("details.") and len(name) > len("details.")):
            raise ValueError(
                f"unknown variable '{name}' in ${{{match.group(1)}}}; variables: {', '.join(sorted(KNOWN))}, "
                "details.<key>"
            )
        parts.append((name, escape))
    parts.append(text[position:])
    return [part for part in parts if part != ""]


def _text(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise ValueError(f"the value of '{name}' is a {type(value).__name__}, which a template does not write")


def camel_case(key: str) -> str:
    """The original's ``snakeToCamelCase``: ``redirect_uri`` → ``redirectUri``."""
    if "_" not in key:
        return key
    first, *rest = key.rstrip("_").split("_") or [""]
    return first + "".join(part[0].upper() + part[1:] for part in rest if part)


def variables(event: Event) -> dict[str, str]:
    """The values the original gives a template for *event* (absent and null values left out)."""
    kete = event.to_kete()
    values: dict[str, str] = {}

    def put(name: str, value: Any) -> None:
        if value is not None:
            values[name] = _text(name, value)

    if event.kind == EVENT:
        for name in USER_VARIABLES:
            put(name, kete.get(name))
        details = kete.get("details")
        if isinstance(details, Mapping):
            for key, value in details.items():
                put(f"details.{key}", value)
                alias = camel_case(str(key))
                if alias != key:
                    put(f"details.{alias}", value)
        return values
    for name in ADMIN_VARIABLES:
        put(name, kete.get("resourceTypeAsString" if name == "resourceType" else name))
    auth = kete.get("authDetails")
    if isinstance(auth, Mapping):
        for name in AUTH_VARIABLES:
            put(f"authDetails.{name}", auth.get(name))
    return values


def render(parts: list[Part], values: Mapping[str, str], escape: Callable[[str], str]) -> str:
    """The template of *parts* with *values*, each escaped by its filter or by *escape*."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        name, own = part
        value = values.get(name)
        if value is not None:
            out.append((own or escape)(value))
    return "".join(out)
