"""Every serializer of kete-serializers passes the serializer contract."""

from __future__ import annotations

import json
from typing import Any

import cbor2

from kete_core import Event, parse_event
from kete_core.testing import SerializerContract, user_event


def _with_float() -> list[Event]:
    """A float (an unknown field): its Java spelling is not reproduced, so the Jackson formats refuse it."""
    return [parse_event(user_event(8, score=1.5))]


class TestYaml(SerializerContract):
    kind = "yaml"

    def bad_events(self) -> list[Event]:
        return [*_with_float(), parse_event(user_event(9, details={"two\nlines": "x"}))]


class TestXml(SerializerContract):
    kind = "xml"

    def bad_events(self) -> list[Event]:
        return [
            *_with_float(),
            parse_event(user_event(9, details={"a\x01": "x"})),
            parse_event(user_event(10, details={"not a name": "x"})),
        ]


class TestCsv(SerializerContract):
    kind = "csv"  # writes every event kete accepts: its columns are Keycloak's typed fields


class TestToml(SerializerContract):
    kind = "toml"

    def bad_events(self) -> list[Event]:
        return [*_with_float(), parse_event(user_event(9, roles=["a", "b"]))]


class TestProperties(SerializerContract):
    kind = "properties"

    def bad_events(self) -> list[Event]:
        return _with_float()


class TestUrlEncodedForm(SerializerContract):
    kind = "url-encoded-form"

    def bad_events(self) -> list[Event]:
        return [parse_event(user_event(9, details={"score": 1.5}))]


class TestUrlEncodedFormDot(TestUrlEncodedForm):
    settings = {"nesting-notation": "DOT"}


class TestMultipartForm(SerializerContract):
    kind = "multipart-form"

    def bad_events(self) -> list[Event]:
        return [
            parse_event(user_event(9, details={"x": "a\r\n--kete-boundary--\r\n"})),
            parse_event(user_event(10, details={'a"b': "x"})),
        ]


class TestCbor(SerializerContract):
    kind = "cbor"

    def decode(self, payload: bytes) -> dict[str, Any]:
        decoded: dict[str, Any] = cbor2.loads(payload)
        return decoded

    def bad_events(self) -> list[Event]:
        return _with_float()


class TestSmile(SerializerContract):
    kind = "smile"  # no maintained Python reader: test_jackson.py reads it with Jackson

    def bad_events(self) -> list[Event]:
        return _with_float()


class TestAvro(SerializerContract):
    kind = "avro"  # the original's record is no event (snake_case): test_jackson.py reads it with Apache Avro

    def bad_events(self) -> list[Event]:
        return [parse_event(user_event(9, details={"n": 1})), parse_event(user_event(10, sessionId=7))]


class TestProtobuf(SerializerContract):
    kind = "protobuf"  # read with protobuf-java in test_jackson.py

    def bad_events(self) -> list[Event]:
        return [parse_event(user_event(9, details={"n": 1})), parse_event(user_event(10, sessionId=7))]


class TestTemplate(SerializerContract):
    kind = "template"
    settings = {
        "template-file-text": '{"id":"${id}","type":"${type}${operationType}","user":"${details.username}"}',
        "variable-escape": "json",
        "content-type": "application/json",
    }

    def decode(self, payload: bytes) -> None:
        assert json.loads(payload)["id"].startswith(("e", "a"))  # valid JSON for every event
        return

    def bad_events(self) -> list[Event]:
        return [parse_event(user_event(9, details={"username": 1.5}))]
