"""``.properties`` files read as Java reads them: the same keys and values as
``java.util.PropertyResourceBundle`` gives (run by the machine's Java), the same refusals, the same
ISO-8859-1 fallback; and KETE's legacy unprefixed ``enabled``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kete_core.config import load_config
from kete_core.config.properties import PropertiesError, decode, java_trim, parse_properties
from kete_core.errors import ConfigErrors
from kete_core.testing import run_kete
from kete_core.testing.services import ServiceUnavailable, find_java, unavailable

HARNESS = Path(__file__).resolve().parent / "java" / "LoadProperties.java"

# Each a whole file; together they cover the grammar's corners.
FILES = {
    "separators": "a=1\nb:2\nc 3\nd\t4\ne\f5\nf = = 6\ng := 7\nh    8\ni\n=9\nj=\nk\n",
    "escapes": "x\\:y=\\u0041\\tB\nsp\\ ace=v\\ \nq=\\\\n\\n\\r\\f\\q\\=\n\\#not-comment=1\nemoji=\\uD83D\\uDE00\n",
    "continuations": "a=one\\\n    two\\\n\tthree\nb=x\\\\\nc=y\\\\\\\n  z\nd=end\\\n\ne=after\nf=\\\n\\\n   g\nlast=\\",
    "comments": "# c\n! c\n   # indented comment\nk=v # not a comment\n#a=b\\\nm=n\n",
    "line ends": "a=1\r\nb=2\rc=3\nd=4\\\r\n  5\r\n",
    "blanks": "  \t\fkey = value  \t\n\n\n   \nspaces=  both  \nnbsp=\u00a0x\u00a0\n\u3000ideographic=1\n",
    "odd characters": "form\x0cfeed=1\nnel=a\x85b\nls=a\u2028b\nvt=a\x0bb\nunit=a\x1fb\n",
    "duplicates": "a=1\na=2\n",
    "an escape across a continuation": "a=\\u00\\\n  41\n",
    "unicode": "realm-names.c4f3=caf\u00e9\n\u00e9t\u00e9=\u00fcber\nk=\u4e2d\u6587\n",
}
MALFORMED = {
    "bad digits": "a=\\uZZZZ\n",
    "short at the end": "a=ok\nb=\\u12\n",
    "in a key": "\\u00g1=x\n",
}


ISO_8859_1 = "realm-names.c4f3=caf\u00e9\n# \u00e9t\u00e9\nk=\u00fcber \u00a7 \u00bd\n".encode("iso-8859-1")


@pytest.fixture(scope="module")
def java(tmp_path_factory: pytest.TempPathFactory) -> dict[bytes, dict[str, str] | str]:
    """What Java reads from each file of this module: the key → value map, or the message of its
    refusal (one JVM for all of them)."""
    try:
        command = find_java("Java's own .properties reader")
    except ServiceUnavailable as exc:
        unavailable(exc)
    files = [text.encode() for text in [*FILES.values(), *MALFORMED.values()]] + [ISO_8859_1]
    folder = tmp_path_factory.mktemp("properties")
    paths = []
    for number, data in enumerate(files):
        paths.append(folder / f"{number}.properties")
        paths[-1].write_bytes(data)
    output = subprocess.run(
        [command, str(HARNESS), *map(str, paths)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    results: dict[bytes, dict[str, str] | str] = {}
    for data, section in zip(files, output.split("FILE\n")[1:], strict=True):
        if section.startswith("ERROR\t"):
            results[data] = section.split("\t", 1)[1].strip()
        else:
            pairs = (line.split("\t") for line in section.splitlines())
            results[data] = {_utf16(key): _utf16(value) for key, value in pairs}
    return results


def _utf16(text: str) -> str:
    return bytes.fromhex(text).decode("utf-16-be", "surrogatepass")


def kete(data: bytes) -> dict[str, str]:
    """What kete reads, untrimmed back to Java's view: kete trims as KETE does."""
    return {key: value for _number, key, value in parse_properties(decode(data))}


@pytest.mark.parametrize("name", list(FILES))
def test_the_same_keys_and_values_as_java(java, name):
    data = FILES[name].encode("utf-8")
    expected = java[data]
    assert isinstance(expected, dict), expected
    assert kete(data) == {java_trim(key): java_trim(value) for key, value in expected.items()}


def test_iso_8859_1_files_are_read_as_java_reads_them(java, tmp_path):
    data = ISO_8859_1
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert kete(data) == java[data] == {"realm-names.c4f3": "caf\u00e9", "k": "\u00fcber \u00a7 \u00bd"}
    config = tmp_path / "kete.properties"
    config.write_bytes(b"kete.sources.s.kind=file\nkete.sources.s.path=-\nkete.sources.s.realm-names.c4f3=caf\xe9\n")
    assert load_config(config, {}).sources["s"]["realm-names"] == {"c4f3": "caf\u00e9"}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_unicode_escape_is_refused_as_java_refuses_it(java, name):
    data = MALFORMED[name].encode()
    assert java[data] == "Malformed \\uxxxx encoding."
    with pytest.raises(PropertiesError) as caught:
        kete(data)
    assert caught.value.line == data.decode().count("\n", 0, data.decode().index("\\u")) + 1


def test_the_refusal_names_the_line_and_never_shows_the_value(tmp_path):
    config = tmp_path / "kete.properties"
    config.write_text("kete.routes.r.destination.kind=stdout\nkete.routes.r.destination.password=hunter\\uZZ2\n")
    result = run_kete("check", str(config))
    assert result.returncode == 2
    assert f"{config}:2: malformed \\uxxxx escape" in result.stderr
    assert "hunter" not in result.stderr and "ZZ2" not in result.stderr


@pytest.mark.parametrize(
    ("lines", "enabled"),
    [
        ("enabled=false", False),
        ("enabled = FALSE", False),
        ("enabled=true", True),
        ("enabled=false\nkete.enabled=true", False),
        ("enabled=true\nkete.enabled=false", False),
    ],
)
def test_the_legacy_unprefixed_enabled_is_honoured(tmp_path, lines, enabled):
    config = tmp_path / "kete.properties"
    config.write_text(f"kete.routes.r.destination.kind=stdout\n{lines}\n")
    assert load_config(config, {}).settings.enabled is enabled


def test_kete_run_with_the_legacy_switch_off_does_nothing(tmp_path):
    config = tmp_path / "kete.properties"
    config.write_text(
        "enabled=false\nkete.sources.s.kind=file\nkete.sources.s.path=missing.jsonl\nkete.routes.r.destination.kind=stdout\n"
    )
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "kete is disabled" in result.stderr


def test_a_bad_legacy_value_is_an_error(tmp_path):
    config = tmp_path / "kete.properties"
    config.write_text("enabled=maybe\nkete.routes.r.destination.kind=stdout\n")
    with pytest.raises(ConfigErrors, match=r"kete\.enabled"):
        load_config(config, {})
