"""The bytes of each format for real-shaped events, as the original's serializers write them (the
expected texts were produced by the original's Jackson mappers; test_jackson.py checks the whole corpus)."""

from __future__ import annotations

import base64
import email.parser
import io
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import cbor2
import fastavro
import pytest
from kete_serializers.avro_serializer import schema
from kete_serializers.protobuf_serializer import message_class
from kete_serializers.records import original_record

from kete_core import EVENT, ConfigError, ConfigErrors, Event, parse_event
from kete_core.testing import admin_event, user_event
from kete_core.testing.contracts import load, validate_settings

USER = parse_event(
    user_event(
        1,
        event_type="LOGIN_ERROR",
        error="invalid_user_credentials",
        details={"username": 'zoë "x" 😀', "redirect_uri": "https://a/b?c=d e"},
    )
)
ADMIN = parse_event(admin_event(2))
LONG = parse_event(
    admin_event(
        3,
        representation='{"username":"new","enabled":true,"attributes":{"a":["1","2"]},"credentials":[{"type":"password",'
        '"value":"secret secret secret"}]} and some more text to make it long enough to wrap twice over the eighty'
        " column limit",
    )
)


def serialize(kind: str, event: Event, **settings: Any) -> bytes:
    cls, info = load("serializer", kind, path="test")
    return cls(validate_settings(cls.Config, settings, "test", info)).serialize(event)  # type: ignore[no-any-return]


def test_yaml_quotes_every_string_and_writes_null() -> None:
    assert serialize("yaml", ADMIN) == (
        b'---\nid: "a2"\ntime: 1700000000002\nrealmId: "acme-id"\nrealmName: "acme"\nauthDetails:\n'
        b'  realmId: "master-id"\n  realmName: "master"\n  clientId: "admin-cli"\n  userId: "root"\n  ipAddress: null\n'
        b'resourceType: "USER"\noperationType: "CREATE"\nresourcePath: "users/user-2"\n'
        b'representation: "{\\"username\\":\\"new\\"}"\nerror: null\ndetails: null\nresourceTypeAsString: "USER"\n'
        b'resourceId: "user-2"\n'
    )


def test_yaml_folds_long_strings_as_snakeyaml() -> None:
    assert b'representation: "{\\"username\\":\\"new\\",\\"enabled\\":true,\\"attributes\\":{\\"a\\":[\\"\\\n' in (
        payload := serialize("yaml", LONG)
    )
    assert payload.endswith(
        b'  1\\",\\"2\\"]},\\"credentials\\":[{\\"type\\":\\"password\\",\\"value\\":\\"secret secret secret\\"\\\n'
        b"  }]} and some more text to make it long enough to wrap twice over the eighty column\\\n"
        b'  \\ limit"\nerror: null\ndetails: null\nresourceTypeAsString: "USER"\nresourceId: "user-3"\n'
    )


def test_yaml_keys_are_quoted_where_jackson_quotes_them() -> None:
    event = parse_event(user_event(4, details={"true": "a", "y": "b", "1x": "c", "a: b": "d", "": "e", "k:v": "f"}))
    assert serialize("yaml", event).endswith(
        b'details:\n  "true": "a"\n  "y": "b"\n  "1x": "c"\n  \'a: b\': "d"\n  ? ""\n  : "e"\n  k:v: "f"\n'
    )


def test_xml_has_no_declaration_and_empty_elements_for_null() -> None:
    assert (
        serialize("xml", USER)
        == (
            "<Event><id>e1</id><time>1700000000001</time><type>LOGIN_ERROR</type><realmId>acme-id</realmId>"
            "<realmName>acme</realmName><clientId>account</clientId><userId>user-1</userId><sessionId/>"
            "<ipAddress>127.0.0.1</ipAddress><error>invalid_user_credentials</error><details>"
            '<username>zoë "x" 😀</username><redirect_uri>https://a/b?c=d e</redirect_uri></details></Event>'
        ).encode()
    )
    assert serialize("xml", ADMIN).startswith(b"<AdminEvent><id>a2</id>")
    odd = parse_event(user_event(5, details={"v": "a<b&c>d]]>e\r\x85"}))
    assert b"<v>a&lt;b&amp;c>d]]&gt;e&#xd;&#x85;</v>" in serialize("xml", odd)


def test_csv_has_the_beans_columns_and_leaves_nested_fields_empty() -> None:
    # The columns and quoting of CsvMapper.schemaFor(Event.class / AdminEvent.class) on Keycloak 26.
    assert serialize("csv", USER) == (
        b"clientId,details,error,id,ipAddress,realmId,realmName,sessionId,time,type,userId\n"
        b"account,,invalid_user_credentials,e1,127.0.0.1,acme-id,acme,,1700000000001,LOGIN_ERROR,user-1\n"
    )
    assert serialize("csv", ADMIN) == (
        b"authDetails,details,error,id,operationType,realmId,realmName,representation,resourceId,resourcePath,"
        b'resourceType,resourceTypeAsString,time\n,,,a2,CREATE,acme-id,acme,"{""username"":""new""}",user-2,'
        b"users/user-2,USER,USER,1700000000002\n"
    )
    odd = parse_event(user_event(5, error="a b", clientId="x" * 25, userId="a-b.c_d"))
    assert serialize("csv", odd).endswith(
        b'"' + b"x" * 25 + b'",,"a b",e5,127.0.0.1,acme-id,acme,,1700000000005,LOGIN,a-b.c_d\n'
    )


def test_toml_writes_dotted_keys_and_null_as_empty_string() -> None:
    payload = serialize("toml", ADMIN)
    assert b"authDetails.realmId = 'master-id'\n" in payload and b"details = ''\n" in payload
    assert b'representation = \'{"username":"new"}\'\n' in payload
    odd = parse_event(user_event(5, details={"it's": "a'b\r\t\"", "weird key": "x"}))
    assert b"details.\"it's\" = \"a'b\\u000d\\t\\\"\"\ndetails.'weird key' = 'x'\n" in serialize("toml", odd)
    assert tomllib.loads(payload.decode())["authDetails"]["clientId"] == "admin-cli"


def test_properties_are_iso_8859_1_with_unicode_escapes() -> None:
    assert serialize("properties", USER) == (
        b"id=e1\ntime=1700000000001\ntype=LOGIN_ERROR\nrealmId=acme-id\nrealmName=acme\nclientId=account\n"
        b"userId=user-1\nsessionId=\nipAddress=127.0.0.1\nerror=invalid_user_credentials\n"
        b'details.username=zo\xeb "x" \\uD83D\\uDE00\ndetails.redirect_uri=https://a/b?c=d e\n'
    )
    odd = parse_event(user_event(5, details={"a b=c:d#e!": "\\\t\n\r\x0c\x7f\xa0日"}))
    assert b"details.a\\ b\\=c\\:d\\#e\\!=\\\\\\t\\n\\r\\u000C\\u007F\xa0\\u65E5\n" in serialize("properties", odd)


def test_url_encoded_form_in_the_original_order_without_nulls() -> None:
    assert serialize("url-encoded-form", USER) == (
        b"id=e1&type=LOGIN_ERROR&realmId=acme-id&realmName=acme&clientId=account&userId=user-1&ipAddress=127.0.0.1"
        b"&error=invalid_user_credentials&time=1700000000001&details%5Busername%5D=zo%C3%AB+%22x%22+%F0%9F%98%80"
        b"&details%5Bredirect_uri%5D=https%3A%2F%2Fa%2Fb%3Fc%3Dd+e"
    )
    assert serialize("url-encoded-form", ADMIN, **{"nesting-notation": "dot"}) == (
        b"id=a2&operationType=CREATE&resourceType=USER&realmId=acme-id&realmName=acme&resourcePath=users%2Fuser-2"
        b"&representation=%7B%22username%22%3A%22new%22%7D&time=1700000000002&authDetails.realmId=master-id"
        b"&authDetails.realmName=master&authDetails.clientId=admin-cli&authDetails.userId=root"
    )
    assert serialize("url-encoded-form", parse_event(user_event(6, details={"t": "~*._-"}))).endswith(b"=%7E*._-")


def test_multipart_form_with_the_fixed_boundary() -> None:
    payload = serialize("multipart-form", ADMIN)
    assert payload.startswith(b'--kete-boundary\r\nContent-Disposition: form-data; name="id"\r\n\r\na2\r\n')
    assert payload.endswith(b'name="authDetails[userId]"\r\n\r\nroot\r\n--kete-boundary--\r\n')
    head = b"Content-Type: multipart/form-data; boundary=kete-boundary\r\n\r\n"
    message = email.parser.BytesParser().parsebytes(head + serialize("multipart-form", USER))
    fields = {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in message.get_payload()
    }
    assert fields["details[username]"] == 'zoë "x" 😀'.encode()
    assert list(fields) == [name for name, _ in parse_qsl(serialize("url-encoded-form", USER).decode())]


def test_the_nesting_notation_is_checked() -> None:
    cls, info = load("serializer", "url-encoded-form", path="routes.r.serializer")
    with pytest.raises(ConfigError, match="nesting-notation"):
        validate_settings(cls.Config, {"nesting-notation": "brackets"}, "routes.r.serializer", info)


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [
        ("yaml", "application/yaml"),
        ("xml", "application/xml"),
        ("csv", "text/csv"),
        ("toml", "application/toml"),
        ("properties", "text/plain"),
        ("url-encoded-form", "application/x-www-form-urlencoded"),
        ("multipart-form", "multipart/form-data; boundary=kete-boundary"),
    ],
)
def test_content_types_are_the_originals(kind: str, content_type: str) -> None:
    assert load("serializer", kind, path="test")[0].content_type == content_type


def test_cbor_writes_objects_as_indefinite_maps_and_chunks_long_strings() -> None:
    payload = serialize("cbor", USER)
    assert payload[:4] == b"\xbfbid" and payload.endswith(b"\xff\xff")  # the details map, then the event
    assert cbor2.loads(payload) == USER.to_kete()
    long = parse_event(admin_event(6, representation="x" * 3995 + "😀" + "y" * 10))
    payload = serialize("cbor", long)
    # 3996 UTF-16 units a chunk, never half an emoji: 3995 x, then the emoji opens the last chunk
    assert b"\x7f\x79\x0f\x9b" + b"x" * 3995 + b"\x6e\xf0\x9f\x98\x80" + b"y" * 10 + b"\xff" in payload
    assert cbor2.loads(payload) == long.to_kete()


def test_smile_shares_key_names_within_an_event() -> None:
    payload = serialize("smile", parse_event(user_event(7, details={"id": "x", "é": "y"})))
    assert payload.startswith(b":)\n\x01\xfa\x81idAe7\x83time")
    # "id" again in details is a reference to the first key; a non-ASCII key is a short Unicode name
    assert payload.endswith(b"\x86details\xfa\x40\x40x\xc0\xc3\xa9\x40y\xfb\xfb")


def test_avro_is_one_schemaless_record_of_the_shipped_schemas() -> None:
    for event in (USER, ADMIN):
        record = fastavro.schemaless_reader(io.BytesIO(serialize("avro", event)), schema(event.kind), None)
        assert record == {**original_record(event), **({} if event.kind == EVENT else {"details": None})}
    assert serialize("avro", ADMIN)[:4] == b"\x02\x04a2"  # union branch 1 (string), length 2, no header


def test_protobuf_reads_back_with_the_shipped_descriptors() -> None:
    user = message_class("Event").FromString(serialize("protobuf", USER))
    assert (user.type, user.session_id, dict(user.details)) == ("LOGIN_ERROR", "", USER.data["details"])
    admin = message_class("AdminEvent").FromString(serialize("protobuf", ADMIN))
    assert (admin.operation_type, admin.resource_type, admin.auth_details.user_id) == ("CREATE", "USER", "root")
    assert not admin.details  # the original leaves the admin event's details out


def template(text: str, event: Event, **settings: Any) -> str:
    return serialize("template", event, **{"template-file-text": text, **settings}).decode()


def test_template_writes_the_original_variables_with_filters() -> None:
    event = parse_event(user_event(8, details={"redirect_uri": 'https://a/b?c=d e&f="g"', "auth_method": "<x>, 'y'"}))
    text = "${id} ${type} ${realmName} ${details.redirect_uri:url} ${details.redirectUri:JSON} ${details.authMethod}"
    assert template(text, event, **{"variable-escape": "xml-encode"}) == (
        'e8 LOGIN acme https%3A%2F%2Fa%2Fb%3Fc%3Dd+e%26f%3D%22g%22 https://a/b?c=d e&f=\\"g\\" &lt;x&gt;, &apos;y&apos;'
    )
    assert template("${details.auth_method:csv-quote}|${details.auth_method:b64}", event) == (
        "\"<x>, 'y'\"|PHg+LCAneSc="
    )
    admin = "${operationType} ${resourceType} ${authDetails.userId} ${authDetails.ipAddress}|${sessionId}|"
    assert template(admin, ADMIN) == "CREATE USER root ||"  # absent and null render empty


def test_template_values_are_never_expanded_as_template() -> None:
    event = parse_event(user_event(9, details={"note": "${type} $${id} ${details.note}"}))
    assert template("[${details.note}] $${id} ${id", event) == "[${type} $${id} ${details.note}] ${id} ${id"


def test_template_sources_and_content_type(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("<e>${id}</e>\n", encoding="utf-8")
    payload = serialize("template", USER, **{"template-file-path": str(path), "content-type": " application/xml "})
    assert payload == b"<e>e1</e>\n"
    encoded = base64.b64encode("ü ${type}".encode()).decode()
    assert serialize("template", USER, **{"template-file-base64": encoded}) == "ü LOGIN_ERROR".encode()
    cls, info = load("serializer", "template", path="test")
    serializer = cls(
        validate_settings(cls.Config, {"template-file-path": str(path), "content-type": "a/b "}, "x", info)
    )
    assert serializer.content_type == "a/b"


@pytest.mark.parametrize(
    ("settings", "where", "message"),
    [
        ({"template-file-text": "${nope}"}, "template-file-text", "unknown variable 'nope'"),
        ({"template-file-text": "x ${id:html}"}, "template-file-text", "unknown filter 'html'"),
        ({"template-file-path": "/nonexistent/template.txt"}, "template-file-path", "No such file or directory"),
        ({"template-file-path": "/"}, "template-file-path", "Is a directory"),
        ({"template-file-base64": "%%%"}, "template-file-base64", "not Base64"),
        ({"template-file-text": "   "}, "", "exactly one of"),
        ({"template-file-text": "a", "template-file-base64": "YQ=="}, "", "exactly one of"),
        ({"template-file-text": "a", "variable-escape": "html"}, "variable-escape", "'json-encode'"),
    ],
)
def test_template_settings_are_checked(settings: dict[str, str], where: str, message: str) -> None:
    cls, info = load("serializer", "template", path="test")
    with pytest.raises(ConfigErrors) as caught:
        validate_settings(cls.Config, settings, "routes.r.serializer", info)
    [error] = caught.value.errors
    assert error.path == "routes.r.serializer" + (f".{where}" if where else "") and message in str(error)
