"""AMQP 1.0 messages as bytes on the wire, read section by section with python-qpid-proton's codec
(:class:`proton.Data`), and the Azure batch format (one message whose data sections are each an encoded
message) unpacked into its messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proton import Data, Described

HEADER, DELIVERY_ANNOTATIONS, MESSAGE_ANNOTATIONS, PROPERTIES, APPLICATION_PROPERTIES = range(0x70, 0x75)
DATA, AMQP_SEQUENCE, AMQP_VALUE, FOOTER = range(0x75, 0x79)
_BODY = (DATA, AMQP_SEQUENCE, AMQP_VALUE)
PROPERTY_NAMES = (
    "message_id",
    "user_id",
    "to",
    "subject",
    "reply_to",
    "correlation_id",
    "content_type",
    "content_encoding",
    "absolute_expiry_time",
    "creation_time",
    "group_id",
    "group_sequence",
    "reply_to_group_id",
)


@dataclass
class Sections:
    """One message's sections: ``properties`` by their AMQP names with underscores (``message_id``,
    ``content_type``), ``application_properties`` and ``annotations`` (message annotations) with text keys,
    ``data`` (each data section's bytes, in order) or ``value`` (an amqp-value or amqp-sequence body)."""

    properties: dict[str, Any] = field(default_factory=dict)
    application_properties: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    data: list[bytes] = field(default_factory=list)
    value: Any = None

    @property
    def body(self) -> Any:
        """The data sections joined, or the amqp-value body."""
        return b"".join(self.data) if self.data else self.value


def _copied(value: Any) -> Any:
    """*value* with every binary (a memoryview into the decoded bytes) copied out as ``bytes``."""
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, Described):
        return Described(value.descriptor, _copied(value.value))
    if isinstance(value, dict):
        return type(value)((_copied(key), _copied(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


def _values(encoded: bytes) -> list[Any] | None:
    """The described values *encoded* holds one after the other, or None if it is not only that."""
    values = []
    offset = 0
    while offset < len(encoded):
        data = Data()
        # Decoded binaries and strings point into the bytes decoded: keep them alive until copied out.
        chunk = bytes(encoded[offset:])
        try:
            used = data.decode(chunk)
        except Exception:  # proton raises DataException and others on bytes that are not AMQP
            return None
        if used <= 0:
            return None
        data.rewind()
        data.next()
        value = _copied(data.get_object())
        if not isinstance(value, Described):
            return None
        values.append(value)
        offset += used
    return values


def decode(encoded: bytes) -> Sections | None:
    """The sections of one encoded message, or None if *encoded* is not a sequence of message sections."""
    values = _values(encoded)
    if not values:
        return None
    found = Sections()
    for value in values:
        code = int(value.descriptor) if isinstance(value.descriptor, int) else -1
        if code == PROPERTIES:
            found.properties = {
                name: item for name, item in zip(PROPERTY_NAMES, value.value or [], strict=False) if item is not None
            }
        elif code == APPLICATION_PROPERTIES:
            found.application_properties = {str(key): item for key, item in (value.value or {}).items()}
        elif code == MESSAGE_ANNOTATIONS:
            found.annotations = {str(key): item for key, item in (value.value or {}).items()}
        elif code == DATA:
            found.data.append(bytes(value.value))
        elif code in (AMQP_VALUE, AMQP_SEQUENCE):
            found.value = value.value
        elif code not in (HEADER, DELIVERY_ANNOTATIONS, FOOTER):
            return None
    return found


def unpack(encoded: bytes) -> tuple[Sections, list[Sections], bool] | None:
    """The message *encoded*, the messages it carries and whether it is a batch: itself alone, or, for an
    Azure batch (message format 0x80013700: each data section an encoded message), each data section's message.

    proton-c does not hand a receiver the transfer's message format, so a batch is recognised by its
    content: every data section decodes, whole, as a message with a body."""
    outer = decode(encoded)
    if outer is None:
        return None
    if outer.data:
        inner = [decode(section) for section in outer.data]
        if all(message is not None and (message.data or message.value is not None) for message in inner):
            return outer, [message for message in inner if message is not None], True
    return outer, [outer], False
