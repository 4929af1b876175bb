"""The plugins under plugins/ use only kete_core's public surface (``kete_core.__all__``), and that
surface is documented: what a first-party plugin needs, a third-party author can see and rely on."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import kete_core

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(ROOT.glob("plugins/*/src/**/*.py"))


def private_imports(path: Path) -> list[str]:
    """``file:line: what`` for each import of *path* that reaches past ``kete_core.__all__``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "kete_core":
                found += [f"{where}: {a.name}" for a in node.names if a.name not in kete_core.__all__]
            elif node.module.startswith("kete_core."):
                found.append(f"{where}: module {node.module}")
        elif isinstance(node, ast.Import):
            found += [f"{where}: module {a.name}" for a in node.names if a.name.startswith("kete_core.")]
    return found


def test_the_plugins_are_found():
    assert {path.parts[len(ROOT.parts) + 1] for path in SOURCES} >= {
        "kete-file", "kete-http", "kete-kafka", "kete-keycloak", "kete-matchers",
    }  # fmt: skip


def test_plugins_import_only_public_names():
    assert [found for path in SOURCES for found in private_imports(path)] == []


def test_the_check_catches_private_imports(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    module = tmp_path / "plugin.py"
    module.write_text(
        "from kete_core import Sink, pipeline_internals\n"
        "from kete_core.errors import Unavailable\n"
        "import kete_core.spool\n"
        "def later():\n    from kete_core.units import parse_size\n"
    )
    assert private_imports(module) == [
        "plugin.py:1: pipeline_internals",
        "plugin.py:2: module kete_core.errors",
        "plugin.py:3: module kete_core.spool",
        "plugin.py:5: module kete_core.units",
    ]


@pytest.mark.parametrize("name", kete_core.__all__)
def test_every_public_name_resolves_and_is_documented(name):
    value = getattr(kete_core, name)
    assert value is not None
    if inspect.isclass(value) or inspect.isfunction(value):
        assert value.__doc__, f"{name} has no docstring"
    doc = (ROOT / "docs" / "writing-plugins.md").read_text()
    assert re.search(rf"`{re.escape(name)}[`(\[]", doc), f"{name} is not described in docs/writing-plugins.md"


def test_star_import_gives_exactly_the_public_names():
    namespace: dict[str, object] = {}
    exec("from kete_core import *", namespace)
    assert sorted(name for name in namespace if name != "__builtins__") == sorted(kete_core.__all__)


def test_importing_kete_core_leaves_the_heavier_modules_alone():
    # The configuration loader (beside ``flatten``), the encodings' settings model and the line
    # reader are loaded when a plugin first uses them, not by every ``kete`` command.
    lazy = ["kete_core.config.document", "kete_core.encodings", "kete_core.lines"]
    code = f"import sys, kete_core; print([name for name in {lazy!r} if name in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
