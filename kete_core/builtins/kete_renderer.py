"""``[kete] renderer = "kete"``: the original KETE's ``${realmLowerCase}`` templates.

Variables are ``${<field><Case>}`` for the fields ``realm``, ``eventType``, ``kind``,
``resourceType``, ``operationType`` and ``result`` (plus any a plugin adds) and the casings
``UpperCase``, ``LowerCase``, ``KebabCase``, ``PascalCase`` and ``CamelCase``. An unknown
variable is an error at load. A known variable with no value for an event (``resourceType`` on a
user event, a realm with no name or id) renders a :class:`~kete_core.errors.RenderError` for that
event: the original left ``${...}`` in place, which made its URLs and topics invalid and the send
fail; kete fails the event for that route the same way, with the reason, and never delivers it
to an address with a literal ``${...}`` in it. Nothing else in a template has meaning: no
expressions, no code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter

from kete_core.cases import CASES
from kete_core.contracts import ComponentConfig, Escape, Renderer, VariableGetter
from kete_core.display import redact
from kete_core.errors import RenderError, did_you_mean
from kete_core.event import Event
from kete_core.memo import Memo

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")

# Template field → Event attribute. One attrgetter over several attributes returns their tuple
# from C: the cache key of a render, computed for every message.
_BASE_ATTRIBUTES = {
    "realm": "realm",
    "eventType": "event_type",
    "kind": "kind",
    "resourceType": "resource_type",
    "operationType": "operation_type",
    "result": "result",
}
BASE_VARIABLES: dict[str, VariableGetter] = {field: attrgetter(name) for field, name in _BASE_ATTRIBUTES.items()}
ADMIN_ONLY_FIELDS = ("resourceType", "operationType")
"""The fields only admin events have a value for."""


class CompiledTemplate:
    """A template split into literal text and variables. Rendered results are cached by the base
    values of the fields it uses, so the casing functions run once per distinct combination."""

    def __init__(
        self,
        source: str,
        parts: list[str | tuple[str, str, Callable[[str], str]]],
        fields: Mapping[str, VariableGetter],
        escape: Escape | None = None,
    ) -> None:
        self.source = source
        self._parts = parts
        self._escape = escape
        names = list(dict.fromkeys(part[1] for part in parts if isinstance(part, tuple)))
        self._fields = names
        self.variables = frozenset(part[0] for part in parts if isinstance(part, tuple))
        # Rendered results by the base values of the fields: a batch renders in one C-level map.
        self._cache: Memo[object, str | RenderError] = Memo(self._render)
        self._key: Callable[[Event], object] | None = None
        if names and all(fields[name] is BASE_VARIABLES.get(name) for name in names):
            self._key = attrgetter(*(_BASE_ATTRIBUTES[name] for name in names))
        elif names:
            getters = [fields[name] for name in names]
            self._key = lambda event: tuple([getter(event) for getter in getters])

    def render(self, event: Event) -> str | RenderError:
        if self._key is None:
            return self.source
        return self._cache[self._key(event)]

    def render_all(self, events: Iterable[Event]) -> list[str | RenderError]:
        if self._key is None:
            return [self.source for _ in events]
        return list(map(self._cache.__getitem__, map(self._key, events)))

    def _render(self, key: object) -> str | RenderError:
        values = dict(zip(self._fields, key if isinstance(key, tuple) else (key,), strict=True))
        out = []
        missing = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name, field, case = part
            base = values[field]
            if not base:
                missing.append(name)
                continue
            value = case(base)
            if self._escape is not None:
                try:
                    value = self._escape(value)
                except ValueError as exc:
                    return RenderError(f"{redact(self.source)!r}: the value {value!r} of ${{{name}}} is refused: {exc}")
            out.append(value)
        if missing:
            names = ", ".join(f"${{{name}}}" for name in dict.fromkeys(missing))
            admin_only = any(name.startswith(ADMIN_ONLY_FIELDS) for name in missing)
            why = " (only admin events have a resource and an operation type)" if admin_only else ""
            return RenderError(f"{redact(self.source)!r}: {names} has no value for this event{why}")
        return "".join(out)


class KeteRenderer(Renderer):
    """The built-in renderer; see the module documentation for the syntax."""

    def __init__(self, config: ComponentConfig, variables: Mapping[str, VariableGetter]) -> None:
        super().__init__(config, variables)
        clashes = sorted(variables.keys() & BASE_VARIABLES.keys())
        if clashes:
            raise ValueError(f"template variables already defined by kete: {', '.join(clashes)}")
        self.fields: dict[str, VariableGetter] = {**BASE_VARIABLES, **variables}
        self.known: dict[str, tuple[str, Callable[[str], str]]] = {
            f"{field}{case_name}": (field, case) for field in self.fields for case_name, case in CASES.items()
        }

    def compile(self, text: str, escape: Escape | None = None) -> CompiledTemplate:
        parts: list[str | tuple[str, str, Callable[[str], str]]] = []
        position = 0
        for match in _PLACEHOLDER.finditer(text):
            name = match.group(1)
            if name not in self.known:
                raise ValueError(self._unknown(name))
            if match.start() > position:
                parts.append(text[position : match.start()])
            parts.append((name, *self.known[name]))
            position = match.end()
        if position < len(text):
            parts.append(text[position:])
        return CompiledTemplate(text, parts, self.fields, escape)

    def _unknown(self, name: str) -> str:
        hint = did_you_mean(name, self.known)
        fields = ", ".join(BASE_VARIABLES) + "".join(f", {extra}" for extra in self.variables)
        return (
            f"unknown template variable '${{{name}}}'"
            + (f"; {hint}" if hint else "")
            + f" (variables are <field><Case>: fields {fields}; cases {', '.join(CASES)})"
        )
