"""Discovery through real entry points: distributions installed on a path of their own."""

from __future__ import annotations

import importlib.metadata
import textwrap
from pathlib import Path

import pytest

import kete_core
from kete_core.discovery import installed, load
from kete_core.errors import PluginError
from kete_core.testing import run_kete


def install(site: Path, name: str, version: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str]):
    """Install a distribution the way pip lays it out: a module and a .dist-info with its entry points."""
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, names in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{ep} = {value}" for ep, value in names.items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install(
        site,
        "acme-broken",
        "0.3.0",
        {"kete.sinks": {"broken": "acme_broken:BrokenSink"}},
        {"acme_broken": "import confluent_kafka_that_is_not_installed\n"},
    )
    install(
        site,
        "acme-twin",
        "1.0.0",
        {"kete.sinks": {"twin": "acme_twin:Sink"}},
        {"acme_twin": "from kete_core.builtins.stdout_sink import StdoutSink as Sink\n"},
    )
    install(
        site,
        "acme-twin-too",
        "2.0.0",
        {"kete.sinks": {"twin": "acme_twin:Sink"}},
        {},
    )
    install(
        site,
        "acme-hooks",
        "0.1.0",
        {"kete.hooks": {"acme-hooks": "acme_hooks"}},
        {
            "acme_hooks": """
            import click
            import kete_core

            @kete_core.hookimpl
            def kete_template_variables():
                return {"clientId": lambda event: event.data.get("clientId")}

            @kete_core.hookimpl
            def kete_add_commands(cli):
                @cli.command()
                def hello():
                    click.echo("hello from acme-hooks")
            """
        },
    )
    return site


def test_listing_imports_nothing(site):
    result = run_kete("plugins", env={"PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:4] == ["sink", "broken", "acme-broken", "0.3.0"] for line in lines)
    assert any(line.split()[:4] == ["sink", "file", "kete-file", "0.1.0"] for line in lines)
    assert any(line.split()[:4] == ["matcher", "glob", "kete-matchers", "0.1.0"] for line in lines)
    assert any(line.split()[:4] == ["hooks", "acme-hooks", "acme-hooks", "0.1.0"] for line in lines)


def test_check_shows_a_broken_plugin_with_its_error_instead_of_crashing(site):
    result = run_kete("plugins", "--check", env={"PYTHONPATH": str(site)})
    assert result.returncode == 1
    [broken] = [line for line in result.stdout.splitlines() if line.startswith("sink") and " broken " in line]
    assert "BROKEN: ModuleNotFoundError: No module named 'confluent_kafka_that_is_not_installed'" in broken
    [fine] = [line for line in result.stdout.splitlines() if line.startswith("sink") and " file " in line]
    assert fine.rstrip().endswith("ok")


def test_a_config_naming_a_broken_plugin_gets_one_clear_error(site, tmp_path):
    config = tmp_path / "kete.toml"
    config.write_text('[routes.r.destination]\nkind = "broken"\n')
    result = run_kete("check", str(config), env={"PYTHONPATH": str(site)})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "kete: error: routes.r.destination.kind: could not load destination kind 'broken'",
        "kete:   plugin: acme-broken 0.3.0 (entry point kete.sinks:broken = acme_broken:BrokenSink)",
        "kete:   cause: ModuleNotFoundError: No module named 'confluent_kafka_that_is_not_installed'",
        "kete:   hint: reinstall the plugin with its dependencies: pip install --force-reinstall acme-broken",
    ]


def test_a_kind_provided_twice_names_both_distributions(site, tmp_path):
    config = tmp_path / "kete.toml"
    config.write_text('[routes.r.destination]\nkind = "twin"\n')
    result = run_kete("check", str(config), env={"PYTHONPATH": str(site)})
    assert result.returncode == 2
    assert "destination kind 'twin' is provided more than once" in result.stderr
    assert "acme-twin 1.0.0" in result.stderr and "acme-twin-too 2.0.0" in result.stderr


def test_hook_plugins_add_commands_and_template_variables(site, tmp_path):
    env = {"PYTHONPATH": str(site)}
    assert run_kete("hello", env=env).stdout == "hello from acme-hooks\n"
    events = tmp_path / "events.jsonl"
    events.write_text('{"type":"LOGIN","clientId":"account-console"}\n')
    config = tmp_path / "kete.toml"
    config.write_text(
        f'[sources.s]\nkind = "file"\npath = "{events}"\n'
        f'[routes.r.destination]\nkind = "file"\npath = "{tmp_path}/out/${{clientIdKebabCase}}.jsonl"\n'
    )
    result = run_kete("run", str(config), env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "account-console.jsonl").exists()
    disabled = run_kete("check", str(config), env={**env, "KETE_DISABLE_PLUGINS": "acme-hooks"})
    assert "unknown template variable '${clientIdKebabCase}'" in disabled.stderr


def test_a_hook_plugin_with_an_unknown_hook_is_reported(tmp_path):
    site = tmp_path / "site"
    install(
        site,
        "acme-typo",
        "0.2.0",
        {"kete.hooks": {"acme-typo": "acme_typo"}},
        {"acme_typo": "import kete_core\n\n@kete_core.hookimpl\ndef kete_befor_emit(route, messages):\n    pass\n"},
    )
    result = run_kete("plugins", env={"PYTHONPATH": str(site)})
    assert "kete: warning: a hook plugin implements an unknown hook" in result.stderr
    assert "kete_befor_emit" in result.stderr


def test_in_process_listing_and_loading():
    names = {item.name for item in installed("sink")}
    assert {"file", "stdout"} <= names
    cls, info = load("sink", "stdout")
    assert cls.__name__ == "StdoutSink"
    assert (info.distribution, info.group) == ("kete-core", "kete.sinks")
    with pytest.raises(PluginError, match="unknown destination kind 'stdot'") as caught:
        load("sink", "stdot", path="routes.x.destination.kind")
    assert "did you mean 'stdout'?" in str(caught.value)


def test_an_entry_point_that_is_not_a_class_gets_a_clear_error(tmp_path):
    site = tmp_path / "site"
    install(
        site,
        "acme-factory",
        "0.1.0",
        {"kete.sinks": {"factory": "acme_factory:make_sink"}},
        {"acme_factory": "def make_sink(config, context):\n    return None\n"},
    )
    config = tmp_path / "kete.toml"
    config.write_text('[routes.r.destination]\nkind = "factory"\n')
    result = run_kete("check", str(config), env={"PYTHONPATH": str(site)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[0].startswith(
        "kete: error: routes.r.destination.kind: destination kind 'factory' is not a class: <function make_sink"
    )
    assert "kete:   hint: the entry point must name the destination kind's class, as 'module:Class'" in result.stderr


def test_a_client_names_its_distribution_and_version():
    assert kete_core.user_agent("kete-core") == f"kete-core/{importlib.metadata.version('kete-core')}"
    assert kete_core.user_agent("kete-not-installed") == "kete-not-installed"
