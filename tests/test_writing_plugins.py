"""The example of docs/writing-plugins.md, built and installed as a user would (the ``site``
fixture of ``tests/conftest.py``), then run."""

from __future__ import annotations

import re
from pathlib import Path

from kete_core.testing import run_kete

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "plugins" / "kete-prefix"


def test_the_example_is_small():
    files = sorted(path.name for path in EXAMPLE.iterdir() if path.is_file())
    assert files == ["kete_prefix.py", "pyproject.toml"]
    lines = sum(len(path.read_text().splitlines()) for path in EXAMPLE.iterdir() if path.is_file())
    assert lines < 40


def test_the_docs_show_the_example_exactly():
    doc = (ROOT / "docs" / "writing-plugins.md").read_text()
    blocks = re.findall(r"```(?:toml|python)\n(.*?)```", doc, re.DOTALL)
    assert (EXAMPLE / "pyproject.toml").read_text() in blocks
    assert (EXAMPLE / "kete_prefix.py").read_text() in blocks


def test_the_installed_example_is_listed_and_matches(site):
    env = {"PYTHONPATH": str(site)}
    listing = run_kete("plugins", env=env).stdout
    assert re.search(r"^matcher\s+prefix\s+kete-prefix\s+0\.1\.0\s+kete_prefix:PrefixMatcher$", listing, re.MULTILINE)
    result = run_kete("match", "prefix:LOGIN,CLIENT_", "LOGIN_ERROR", "CLIENT_LOGIN", "LOGOUT", env=env)
    assert result.stdout.splitlines() == ["LOGIN_ERROR   match", "CLIENT_LOGIN  match", "LOGOUT        no match"]
    blank = run_kete("match", "prefix:", "LOGIN", env=env)
    assert blank.returncode == 2
    assert blank.stderr.strip() == "kete: error: matcher: malformed matcher 'prefix:': the pattern is blank"
    invalid = run_kete("match", "prefix:,", "LOGIN", env=env)
    assert "invalid prefix pattern ',': no prefixes given" in invalid.stderr


def test_the_installed_example_routes_events(site, tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"type":"LOGIN","id":"1"}\n{"type":"LOGOUT","id":"2"}\n{"type":"login_error","id":"3"}\n')
    config = tmp_path / "kete.toml"
    config.write_text(
        f'[sources.s]\nkind = "file"\npath = "{events}"\n'
        '[routes.logins]\nevent-matchers.login = "prefix:LOGIN"\ndestination.kind = "stdout"\n'
    )
    result = run_kete("run", str(config), env={"PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    assert [line.split('"id":"')[1][0] for line in result.stdout.splitlines()] == ["1", "3"]
