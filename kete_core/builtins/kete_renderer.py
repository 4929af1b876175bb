"""``[kete] renderer = "kete"``: the original KETE's ``${realmLowerCase}`` templates.

Variables are ``${<field><Case>}`` for the fields ``realm``, ``eventType``, ``kind``,
``resourceType``, ``operationType`` and ``result`` (plus any a plugin adds) and the casings
``UpperCase``, ``LowerCase``, ``KebabCase``, ``PascalCase`` and ``CamelCase``. An unknown
variable is an error at load. A known variable with no value for an event (``resourceType`` on a
user event, a realm with no name or id) is left in place as written, as the original does.
Nothing else in a template has meaning: no expressions, no code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from kete_core.cases import CASES
from kete_core.contracts import Renderer, VariableGetter
from kete_core.errors import did_you_mean
from kete_core.event import Event

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_RENDER_CACHE_LIMIT = 10_000

BASE_VARIABLES: dict[str, VariableGetter] = {
    "realm": lambda event: event.realm or None,
    "eventType": lambda event: event.event_type,
    "kind": lambda event: event.kind,
    "resourceType": lambda event: event.resource_type,
    "operationType": lambda event: event.operation_type,
    "result": lambda event: event.result,
}


def _variable(getter: VariableGetter, case: Callable[[str], str]) -> VariableGetter:
    def value(event: Event) -> str | None:
        base = getter(event)
        return case(base) if base else None

    return value


class CompiledTemplate:
    """A template split into literal text and variable lookups, with rendered results cached by
    the variables' base values."""

    def __init__(self, source: str, parts: list[str | tuple[str, VariableGetter]]) -> None:
        self.source = source
        self._parts = parts
        self._getters = [part[1] for part in parts if isinstance(part, tuple)]
        self.variables = frozenset(part[0] for part in parts if isinstance(part, tuple))
        self._cache: dict[tuple[str | None, ...], str] = {}

    def render(self, event: Event) -> str:
        if not self._getters:
            return self.source
        key = tuple(getter(event) for getter in self._getters)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        values = iter(key)
        out = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = next(values)
                out.append(value if value is not None else "${" + part[0] + "}")
        rendered = "".join(out)
        if len(self._cache) >= _RENDER_CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = rendered
        return rendered


class KeteRenderer(Renderer):
    """The built-in renderer; see the module documentation for the syntax."""

    def __init__(self, config: Renderer.Config, variables: Mapping[str, VariableGetter]) -> None:
        super().__init__(config, variables)
        clashes = sorted(variables.keys() & BASE_VARIABLES.keys())
        if clashes:
            raise ValueError(f"template variables already defined by kete: {', '.join(clashes)}")
        self.known: dict[str, VariableGetter] = {
            f"{field}{case_name}": _variable(getter, case)
            for field, getter in {**BASE_VARIABLES, **variables}.items()
            for case_name, case in CASES.items()
        }

    def compile(self, text: str) -> CompiledTemplate:
        parts: list[str | tuple[str, VariableGetter]] = []
        position = 0
        for match in _PLACEHOLDER.finditer(text):
            name = match.group(1)
            if name not in self.known:
                raise ValueError(self._unknown(name))
            if match.start() > position:
                parts.append(text[position : match.start()])
            parts.append((name, self.known[name]))
            position = match.end()
        if position < len(text):
            parts.append(text[position:])
        return CompiledTemplate(text, parts)

    def _unknown(self, name: str) -> str:
        hint = did_you_mean(name, self.known)
        fields = ", ".join(BASE_VARIABLES) + "".join(f", {extra}" for extra in self.variables)
        return (
            f"unknown template variable '${{{name}}}'"
            + (f"; {hint}" if hint else "")
            + f" (variables are <field><Case>: fields {fields}; cases {', '.join(CASES)})"
        )
