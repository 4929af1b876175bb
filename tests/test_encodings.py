"""KETE's payload encodings (kete_core.encodings): settings as KETE reads them, bytes as the JDK
classes the original uses write them."""

from __future__ import annotations

import base64
import gzip
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from pydantic import ValidationError

from kete_core import EncodingSettings, PayloadEncoding

PAYLOAD = b'{"type":"LOGIN","realmId":"acme","details":{"username":"j\xc3\xbcrgen"}}' * 50

# What the original does: GZIPOutputStream, DeflaterOutputStream and Base64.getEncoder(), each
# with its defaults (ContentEncoding and ContentTransferEncoding classes of FortuneN/kete).
JAVA = """
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.zip.DeflaterOutputStream;
import java.util.zip.GZIPOutputStream;

public class Encode {
    public static void main(String[] args) throws Exception {
        for (String name : args) {
            byte[] data = Files.readAllBytes(Path.of(name));
            ByteArrayOutputStream gzip = new ByteArrayOutputStream();
            try (GZIPOutputStream out = new GZIPOutputStream(gzip)) {
                out.write(data);
            }
            ByteArrayOutputStream deflate = new ByteArrayOutputStream();
            try (DeflaterOutputStream out = new DeflaterOutputStream(deflate)) {
                out.write(data);
            }
            Files.write(Path.of(name + ".gzip"), gzip.toByteArray());
            Files.write(Path.of(name + ".deflate"), deflate.toByteArray());
            Files.write(Path.of(name + ".base64"), Base64.getEncoder().encode(data));
        }
    }
}
"""


@pytest.mark.parametrize(
    ("written", "expected"),
    [("gzip", "gzip"), (" GZIP ", "gzip"), ("Deflate", "deflate"), ("", None), ("  ", None), (None, None)],
)
def test_content_encoding_is_read_as_kete_reads_it(written, expected):
    assert EncodingSettings.model_validate({"content-encoding": written}).content_encoding == expected


@pytest.mark.parametrize(("written", "expected"), [("base64", "base64"), ("BASE64", "base64"), ("", None)])
def test_transfer_encoding_is_read_as_kete_reads_it(written, expected):
    assert EncodingSettings.model_validate({"content-transfer-encoding": written}).content_transfer_encoding == expected


@pytest.mark.parametrize(
    ("key", "value"), [("content-encoding", "br"), ("content-transfer-encoding", "quoted-printable")]
)
def test_unknown_encodings_are_refused(key, value):
    with pytest.raises(ValidationError, match=key.replace("-", "[-_]")):
        EncodingSettings.model_validate({key: value})


def test_no_encoding_sends_the_payload_as_it_is():
    encoding = EncodingSettings().encoding
    assert encoding.identity
    assert encoding.encode(PAYLOAD) is PAYLOAD
    assert encoding.headers == {}


@pytest.mark.parametrize(
    ("content", "transfer", "decode"),
    [
        ("gzip", None, gzip.decompress),
        ("deflate", None, zlib.decompress),
        (None, "base64", base64.b64decode),
        ("gzip", "base64", lambda data: gzip.decompress(base64.b64decode(data))),
        ("deflate", "base64", lambda data: zlib.decompress(base64.b64decode(data))),
    ],
)
def test_encodings_round_trip_in_kete_order(content, transfer, decode):
    encoding = PayloadEncoding(content, transfer)
    assert not encoding.identity
    assert decode(encoding.encode(PAYLOAD)) == PAYLOAD
    assert decode(encoding.encode(b"")) == b""


def test_headers_name_what_was_applied():
    assert PayloadEncoding("gzip", "base64").headers == {
        "Content-Encoding": "gzip",
        "Content-Transfer-Encoding": "base64",
    }
    assert PayloadEncoding("deflate").headers == {"Content-Encoding": "deflate"}
    assert PayloadEncoding(None, "base64").headers == {"Content-Transfer-Encoding": "base64"}


def test_the_byte_layout_is_javas():
    gzipped = PayloadEncoding("gzip").encode(PAYLOAD)
    # No name, no extra fields, modification time 0, operating system 255: GZIPOutputStream's header.
    assert gzipped[:10] == bytes.fromhex("1f8b08000000000000ff")
    # deflate is the zlib format (RFC 1950) at the default level, not raw RFC 1951 blocks.
    assert PayloadEncoding("deflate").encode(PAYLOAD)[:2] == b"\x78\x9c"
    assert b"\n" not in PayloadEncoding(None, "base64").encode(PAYLOAD * 10)


@pytest.mark.skipif(
    shutil.which("java") is None, reason="needs a Java runtime (the original's encoders are JDK classes)"
)
def test_the_bytes_equal_the_originals(tmp_path: Path):
    source = tmp_path / "Encode.java"
    source.write_text(JAVA)
    payloads = {"event": PAYLOAD, "empty": b"", "binary": bytes(range(256)) * 300}
    for name, payload in payloads.items():
        (tmp_path / name).write_bytes(payload)
    inputs = [str(tmp_path / name) for name in payloads]
    subprocess.run(["java", str(source), *inputs], check=True, capture_output=True, timeout=120)
    for name, payload in payloads.items():
        for content, transfer, suffix in (
            ("gzip", None, "gzip"),
            ("deflate", None, "deflate"),
            (None, "base64", "base64"),
        ):
            expected = (tmp_path / f"{name}.{suffix}").read_bytes()
            assert PayloadEncoding(content, transfer).encode(payload) == expected, (name, suffix)
