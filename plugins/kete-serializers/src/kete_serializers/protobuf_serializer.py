"""``protobuf``: proto3 messages of the original's ``.proto`` files, built from their descriptors.

The ``.proto`` files and ``protobuf.desc`` (the ``FileDescriptorSet`` protoc makes of them, as the
original ships it) are in this package's ``schemas/protobuf``; messages are built from the
descriptors (no generated code), as the original's ``DynamicMessage``. Enums (``type``,
``operation_type``) are strings holding the name. Unset and empty fields are left out (proto3);
details are written sorted by key (deterministic serialization), where the original wrote Java
``HashMap`` order: the same map.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any, ClassVar

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from kete_core import EVENT, Event, Serializer
from kete_serializers.records import original_record

PACKAGE = "io.github.fortunen.kete.events"


@cache
def _pool() -> descriptor_pool.DescriptorPool:
    descriptors = descriptor_pb2.FileDescriptorSet.FromString(
        files("kete_serializers").joinpath("schemas", "protobuf", "protobuf.desc").read_bytes()
    )
    pool = descriptor_pool.DescriptorPool()
    for file in descriptors.file:
        pool.Add(file)
    return pool


@cache
def message_class(name: str) -> Any:
    """The message class of *name* (``Event``, ``AdminEvent``, ``AuthDetails``) from ``protobuf.desc``."""
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(f"{PACKAGE}.{name}"))


class ProtobufSerializer(Serializer):
    """Writes the event as the original's ``ProtobufSerializer``."""

    content_type: ClassVar[str] = "application/x-protobuf"
    binary: ClassVar[bool] = True

    def serialize(self, event: Event) -> bytes:
        record = original_record(event)
        message = message_class("Event" if event.kind == EVENT else "AdminEvent")()
        for name, value in record.items():
            if value is None:
                continue
            if name == "details":
                message.details.update(value)
            elif name == "auth_details":
                message.auth_details.SetInParent()
                for field, text in value.items():
                    if text is not None:
                        setattr(message.auth_details, field, text)
            else:
                setattr(message, name, value)
        payload: bytes = message.SerializeToString(deterministic=True)
        return payload
