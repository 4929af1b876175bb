"""Every distribution under plugins/ follows the plugin template of docs/writing-plugins.md."""

from __future__ import annotations

import ast
import importlib
import re
import sys
import tomllib
from pathlib import Path

import pytest

from kete_core import ComponentConfig

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = sorted(path for path in (ROOT / "plugins").iterdir() if (path / "pyproject.toml").is_file())
SECTIONS = ["What it does", "Install", "Settings", "Guarantees", "Limits"]
COMPONENT_GROUPS = ("kete.sources", "kete.matchers", "kete.renderers", "kete.serializers", "kete.sinks")


def package_of(plugin: Path) -> str:
    return plugin.name.replace("-", "_")


def entry_points(plugin: Path) -> list[tuple[str, str, str]]:
    project = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]
    return [
        (group, name, value)
        for group, points in project.get("entry-points", {}).items()
        for name, value in points.items()
    ]


def test_every_plugin_is_checked():
    assert {plugin.name for plugin in PLUGINS} >= {
        "kete-file",
        "kete-http",
        "kete-kafka",
        "kete-keycloak",
        "kete-matchers",
    }


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda path: path.name)
def test_entry_points_target_modules_inside_the_package(plugin):
    package = package_of(plugin)
    for group, name, value in entry_points(plugin):
        module = value.partition(":")[0]
        assert module.startswith(f"{package}."), f"{group}:{name} = {value}: name a module of {package}"
        assert (plugin / "src" / Path(*module.split("."))).with_suffix(".py").is_file(), value


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda path: path.name)
def test_the_package_init_imports_nothing_heavy(plugin):
    init = plugin / "src" / package_of(plugin) / "__init__.py"
    tree = ast.parse(init.read_text())
    assert ast.get_docstring(tree), f"{init}: say what the plugin provides in the docstring"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.partition(".")[0]
            assert top == "__future__" or top in sys.stdlib_module_names, f"{init}:{node.lineno} imports {name}"


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda path: path.name)
def test_loggers_are_named_after_the_plugin(plugin):
    expected = "kete." + plugin.name.removeprefix("kete-")
    for source in (plugin / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "getLogger":
                [argument] = node.args
                assert isinstance(argument, ast.Constant), f"{source}:{node.lineno}: name the logger literally"
                name = argument.value
                assert name == expected or name.startswith(f"{expected}."), f"{source}:{node.lineno}: {name}"


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda path: path.name)
def test_settings_models_live_in_settings_py(plugin):
    package = package_of(plugin)
    for group, _name, value in entry_points(plugin):
        if group not in COMPONENT_GROUPS:
            continue
        module, _, attribute = value.partition(":")
        component = getattr(importlib.import_module(module), attribute)
        config = getattr(component, "Config", ComponentConfig)
        if config is not ComponentConfig:
            assert config.__module__ == f"{package}.settings", f"{value}: move {config.__name__} to settings.py"


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda path: path.name)
def test_the_readme_has_the_sections_in_order(plugin):
    headings = re.findall(r"^## (.+)$", (plugin / "README.md").read_text(), re.MULTILINE)
    assert headings[: len(SECTIONS)] == SECTIONS, headings


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda path: path.name)
def test_there_is_a_changelog(plugin):
    changelog = (plugin / "CHANGELOG.md").read_text()
    assert re.search(r"^## \d+\.\d+\.\d+", changelog, re.MULTILINE), "a section per version, newest first"
    project = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]
    assert f"## {project['version']}" in changelog, "the current version has an entry"
