"""``url-encoded-form`` and ``multipart-form``: the event's fields as form fields, in the original's order.

The original builds the fields by hand (``UrlEncodedFormSerializer.java``, ``MultipartFormSerializer.java``):
a user event's ``id, type, realmId, realmName, clientId, userId, sessionId, ipAddress, error, time`` and then
``details[<key>]``; an admin event's ``id, operationType, resourceType, realmId, realmName, resourcePath,
representation, error, time`` and then ``authDetails[<key>]`` (its ``details`` are not written). Absent
fields are left out and ``time`` is written as a string.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from kete_core import EVENT, Event, Serializer
from kete_serializers.settings import FormSerializerConfig
from kete_serializers.url_encoding import url_encode

_USER_FIELDS = ("id", "type", "realmId", "realmName", "clientId", "userId", "sessionId", "ipAddress", "error", "time")
_ADMIN_FIELDS = (
    "id", "operationType", "resourceTypeAsString", "realmId", "realmName", "resourcePath", "representation",
    "error", "time",
)  # fmt: skip
_AUTH_FIELDS = ("realmId", "realmName", "clientId", "userId", "ipAddress")
BOUNDARY = "kete-boundary"


def form_fields(event: Event, notation: str) -> Iterator[tuple[str, str]]:
    """The (name, value) pairs the original writes for *event*, with nested names in *notation*."""

    def nested(parent: str, child: str) -> str:
        return f"{parent}[{child}]" if notation == "bracket" else f"{parent}.{child}"

    kete = event.to_kete()
    user = event.kind == EVENT
    for field in _USER_FIELDS if user else _ADMIN_FIELDS:
        value = kete.get(field)
        if value is not None:
            # The admin event's resource type is written from getResourceTypeAsString() as "resourceType".
            yield ("resourceType" if field == "resourceTypeAsString" else field), _text(field, value)
    parent, nested_values = ("details", kete.get("details")) if user else ("authDetails", kete.get("authDetails"))
    if isinstance(nested_values, dict):
        names = nested_values if user else _AUTH_FIELDS
        for key in names:
            value = nested_values.get(key)
            if value is not None:
                yield nested(parent, key), _text(f"{parent}.{key}", value)


def _text(field: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"field '{field}' is a {type(value).__name__}, which a form cannot carry")


class UrlEncodedFormSerializer(Serializer):
    """``application/x-www-form-urlencoded``: ``id=e1&type=LOGIN&…&details%5Busername%5D=alice``."""

    Config = FormSerializerConfig
    config: FormSerializerConfig
    content_type: ClassVar[str] = "application/x-www-form-urlencoded"
    binary: ClassVar[bool] = False

    def serialize(self, event: Event) -> bytes:
        pairs = form_fields(event, self.config.nesting_notation)
        return "&".join(f"{url_encode(name)}={url_encode(value)}" for name, value in pairs).encode()


class MultipartFormSerializer(Serializer):
    """``multipart/form-data`` with the original's fixed boundary ``kete-boundary``; values are written raw.

    A name or value that would end its part early (a line break in a name, a quote, or the boundary
    line inside a value) cannot be written unambiguously: that event fails alone.
    """

    Config = FormSerializerConfig
    config: FormSerializerConfig
    content_type: ClassVar[str] = f"multipart/form-data; boundary={BOUNDARY}"
    binary: ClassVar[bool] = False

    def serialize(self, event: Event) -> bytes:
        parts = []
        for name, value in form_fields(event, self.config.nesting_notation):
            if '"' in name or "\r" in name or "\n" in name:
                raise ValueError(f"form field name {name!r} holds a quote or a line break")
            if f"--{BOUNDARY}" in value:
                raise ValueError(f"the value of '{name}' holds the multipart boundary --{BOUNDARY}")
            parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n')
        parts.append(f"--{BOUNDARY}--\r\n")
        return "".join(parts).encode()
