"""Every configuration the documentation shows works as written: the shipped examples and each
TOML or ``.properties`` block of docs/*.md, README.md and plugins/*/README.md validates against
the schema ``kete schema`` prints, and passes ``kete check``."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from kete_core.config.document import read_tree
from kete_core.testing import run_kete
from tests.services.kafka_broker import make_test_pki

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md", *ROOT.glob("plugins/*/README.md")])
SECTIONS = {"kete", "sources", "routes"}
# Files the examples name, as a deployment would have them: secrets mounted by Kubernetes, a CA.
_SECRET_FILE = re.compile(r"\$\{file:(/[^}]+)\}")
_CA_FILE = "/etc/kete/ca.pem"


@dataclass(frozen=True)
class Example:
    origin: str
    suffix: str
    text: str

    def __str__(self) -> str:
        return self.origin


def _blocks() -> list[Example]:
    examples = [
        Example(str(path.relative_to(ROOT)), path.suffix, path.read_text(encoding="utf-8"))
        for path in sorted(ROOT.glob("examples/*"))
        if path.suffix in (".toml", ".properties")
    ]
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for block in re.finditer(r"```(toml|properties)\n(.*?)```", text, re.DOTALL):
            line = text[: block.start()].count("\n") + 1
            suffix = f".{block.group(1)}"
            if suffix == ".toml" and not set(tomllib.loads(block.group(2))) <= SECTIONS:
                continue  # a pyproject.toml, not a configuration
            examples.append(Example(f"{document.relative_to(ROOT)}:{line}", suffix, block.group(2)))
    return examples


EXAMPLES = _blocks()


def test_the_examples_are_found():
    origins = [example.origin for example in EXAMPLES]
    assert "examples/quickstart.toml" in origins and "examples/quickstart.properties" in origins
    for document in ("README.md", "docs/configuration.md", "plugins/kete-keycloak/README.md"):
        assert any(origin.startswith(f"{document}:") for origin in origins), document
    assert len(EXAMPLES) >= 14


@pytest.fixture(scope="module")
def schema(site: Path) -> Draft202012Validator:
    """The schema with the example plugins of docs/writing-plugins.md installed, as that guide does."""
    result = run_kete("schema", env={"PYTHONPATH": str(site)})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return Draft202012Validator(json.loads(result.stdout))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder standing in for the files the examples name."""
    folder = tmp_path_factory.mktemp("deployment")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    ca, _ = make_test_pki(folder / "pki")
    shutil.copyfile(ca, folder / "ca.pem")
    return folder


def _as_deployed(example: Example, folder: Path) -> tuple[str, dict[str, str]]:
    """The example's text with the absolute files it names moved into *folder* (and created
    there), and an environment with every variable it refers to."""
    text = example.text.replace(_CA_FILE, str(folder / "ca.pem"))
    for secret in set(_SECRET_FILE.findall(text)):
        local = folder / "secrets" / secret.strip("/").replace("/", "-")
        local.parent.mkdir(exist_ok=True)
        local.write_text("example-secret\n")
        text = text.replace(f"${{file:{secret}}}", f"${{file:{local}}}")
    variables = set(re.findall(r"\$\{env:([^}]+)\}", text))
    return text, {name: f"example-{name.lower()}" for name in variables}


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_the_example_validates_against_the_schema(example, schema, tmp_path):
    if example.suffix == ".toml":
        tree = tomllib.loads(example.text)  # what an editor validates
    else:
        path = tmp_path / "example.properties"
        path.write_text(example.text, encoding="utf-8")
        tree = read_tree(path)
    problems = [f"{'.'.join(map(str, error.absolute_path))}: {error.message}" for error in schema.iter_errors(tree)]
    assert problems == []


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_the_example_passes_kete_check(example, deployment, site, tmp_path):
    text, environment = _as_deployed(example, deployment)
    config = tmp_path / f"example{example.suffix}"
    config.write_text(text, encoding="utf-8")
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("plugins"))
    # The example plugin of docs/writing-plugins.md is installed, as that guide does.
    result = run_kete("check", str(config), cwd=tmp_path, env={**environment, "PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    assert "OK:" in result.stdout


def test_the_migration_guide_is_linked_and_has_one_table_of_differences():
    assert "(docs/migrating-from-kete.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    guide = (ROOT / "docs" / "migrating-from-kete.md").read_text(encoding="utf-8")
    tables = re.findall(r"^\| \| KETE \| kete \|", guide, re.MULTILINE)
    assert len(tables) == 1
    for difference in ("5xx", "dead-lettered", "only the types the realm **stores**", "`interval`", "`null`",
                       "custom header values", "log follower"):  # fmt: skip
        assert difference in guide, difference
