"""``csv``: Jackson's CSV writer with the schema of Keycloak's bean and a header row, byte for byte.

The original writes ``CsvMapper.schemaFor(Event.class / AdminEvent.class).withHeader()``: the bean's
properties in alphabetical order, a header line and one row, ``\\n`` line ends. Jackson CSV cannot
write the nested ``details`` and ``authDetails`` and throws on every event that has them; kete writes
those two columns empty instead (the documented shape), so the bytes are the original's wherever the
original writes any. A value is quoted (``"`` doubled) when it is longer than 24 characters or holds a
character below ``-`` (U+002D: controls, space, ``!"#$%&'()*+,``) or a backslash; null is empty.
"""

from __future__ import annotations

import re
from typing import ClassVar

from kete_core import EVENT, Event, Serializer
from kete_serializers.jackson_tree import jackson_tree, scalar

# Keycloak 26's Event and AdminEvent properties as CsvMapper orders them (alphabetically).
USER_COLUMNS = (
    "clientId", "details", "error", "id", "ipAddress", "realmId", "realmName", "sessionId", "time", "type", "userId",
)  # fmt: skip
ADMIN_COLUMNS = (
    "authDetails", "details", "error", "id", "operationType", "realmId", "realmName", "representation", "resourceId",
    "resourcePath", "resourceType", "resourceTypeAsString", "time",
)  # fmt: skip
NESTED = frozenset(("details", "authDetails"))
MAX_UNQUOTED = 24  # Jackson's CsvEncoder quotes longer values without looking at them
_NEEDS_QUOTES = re.compile(r"[\x00-\x2c\\]")
_HEADERS = {columns: ",".join(columns) + "\n" for columns in (USER_COLUMNS, ADMIN_COLUMNS)}


def _cell(column: str, value: object) -> str:
    if column in NESTED:
        return ""
    value = scalar(column, value)
    if value is None:
        return ""
    text = str(value) if not isinstance(value, bool) else ("true" if value else "false")
    if isinstance(value, str) and (
        len(text.encode("utf-16-le", "surrogatepass")) > 2 * MAX_UNQUOTED or _NEEDS_QUOTES.search(text)
    ):
        return '"' + text.replace('"', '""') + '"'
    return text


class CsvSerializer(Serializer):
    """Writes the event as the original's ``CsvSerializer`` (Jackson CSV), nested fields left empty."""

    content_type: ClassVar[str] = "text/csv"
    binary: ClassVar[bool] = False

    def serialize(self, event: Event) -> bytes:
        columns = USER_COLUMNS if event.kind == EVENT else ADMIN_COLUMNS
        tree = jackson_tree(event)
        row = ",".join(_cell(column, tree.get(column)) for column in columns)
        return f"{_HEADERS[columns]}{row}\n".encode()
