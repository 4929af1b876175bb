"""The JSON tree the original's Jackson mappers write: :meth:`Event.to_kete`, checked for what they can carry."""

from __future__ import annotations

from typing import Any

from kete_core import Event

Scalar = str | int | bool | None


def jackson_tree(event: Event) -> dict[str, Any]:
    """The event as the original's ``writerFor(Event.class / AdminEvent.class)`` sees it: KETE's keys in
    KETE's order, ``resourceTypeAsString`` and the admin ``details`` included (Keycloak 26)."""
    return event.to_kete()


def scalar(path: str, value: Any) -> Scalar:
    """*value* if it is a JSON scalar the text formats write exactly; ``ValueError`` naming *path* otherwise
    (Keycloak's events hold strings and integers; a float's Java spelling is not reproduced)."""
    if value is None or isinstance(value, (str, int)):
        return value  # type: ignore[no-any-return]
    raise ValueError(f"field '{path}' is a {type(value).__name__}, which kete does not write in this format")
