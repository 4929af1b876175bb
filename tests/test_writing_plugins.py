"""The examples of docs/writing-plugins.md, built and installed as a user would (the ``site``
fixture of ``tests/conftest.py``), then run."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from kete_core.testing import run_kete

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "plugins"
EXAMPLE = EXAMPLES / "kete-prefix"
SINK_EXAMPLE = EXAMPLES / "kete-sqlite"


@pytest.mark.parametrize(
    ("example", "module", "most_lines"), [(EXAMPLE, "kete_prefix.py", 40), (SINK_EXAMPLE, "kete_sqlite.py", 60)]
)
def test_the_examples_are_small(example, module, most_lines):
    files = sorted(path.name for path in example.iterdir() if path.is_file())
    assert files == [module, "pyproject.toml"]
    lines = sum(len(path.read_text().splitlines()) for path in example.iterdir() if path.is_file())
    assert lines < most_lines


@pytest.mark.parametrize(("example", "module"), [(EXAMPLE, "kete_prefix.py"), (SINK_EXAMPLE, "kete_sqlite.py")])
def test_the_docs_show_the_examples_exactly(example, module):
    doc = (ROOT / "docs" / "writing-plugins.md").read_text()
    blocks = re.findall(r"```(?:toml|python)\n(.*?)```", doc, re.DOTALL)
    assert (example / "pyproject.toml").read_text() in blocks
    assert (example / module).read_text() in blocks


def test_the_example_sink_passes_the_sink_contract(site, pytester, monkeypatch):
    tests = SINK_EXAMPLE / "tests" / "test_contract.py"
    assert tests.read_text() in (ROOT / "docs" / "writing-plugins.md").read_text()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    result = pytester.runpytest_subprocess(str(tests), "-p", "no:cacheprovider", "--rootdir", str(ROOT))
    # Skipped: the check of an address with no value for an event, as SQLite rows have no address.
    result.assert_outcomes(passed=6, skipped=1)


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


def _sqlite_config(tmp_path: Path, events: list[str], database: Path) -> Path:
    source = tmp_path / "events.jsonl"
    source.write_text("".join(event + "\n" for event in events))
    config = tmp_path / "kete.toml"
    config.write_text(
        f'[sources.s]\nkind = "file"\npath = "{source}"\n'
        f'[routes.audit]\ndestination.kind = "sqlite"\ndestination.path = "{database}"\n'
        "retry.wait-duration = 0.1\n"
    )
    return config


EVENTS = [
    '{"type":"LOGIN","realmId":"r1","realmName":"acme","id":"1"}',
    '{"resourceType":"USER","operationType":"CREATE","realmId":"r1","id":"2"}',
]


def test_the_installed_sink_example_is_listed_and_stores_events(site, tmp_path):
    env = {"PYTHONPATH": str(site)}
    listing = run_kete("plugins", env=env).stdout
    assert re.search(r"^sink\s+sqlite\s+kete-sqlite\s+0\.1\.0\s+kete_sqlite:SqliteSink$", listing, re.MULTILINE)
    database = tmp_path / "audit.db"
    result = run_kete("run", str(_sqlite_config(tmp_path, EVENTS, database)), env=env)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT kind, type, realm, payload FROM events").fetchall()
    assert [row[:3] for row in rows] == [("EVENT", "LOGIN", "acme"), ("ADMIN_EVENT", "USER_CREATE", "r1")]
    assert [orjson.loads(row[3])["id"] for row in rows] == ["1", "2"]


def test_the_sink_example_rejects_a_bad_table_name(site, tmp_path):
    config = _sqlite_config(tmp_path, EVENTS, tmp_path / "audit.db")
    config.write_text(config.read_text() + 'destination.table = "events; DROP TABLE x"\n')
    result = run_kete("check", str(config), env={"PYTHONPATH": str(site)})
    assert result.returncode == 2
    assert "routes.audit.destination.table" in result.stderr


def test_the_sink_example_waits_while_the_database_is_locked(site, tmp_path):
    database = tmp_path / "audit.db"
    config = _sqlite_config(tmp_path, EVENTS, database)
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    kete = subprocess.Popen(
        [sys.executable, "-m", "kete_core.cli", "run", str(config)],
        env={**os.environ, "PYTHONPATH": str(site)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert kete.stderr is not None
        seen = []
        for line in kete.stderr:
            seen.append(line)
            if "database is locked" in line:
                break
        holder.execute("COMMIT")
        _, err = kete.communicate(timeout=60)
    finally:
        holder.close()
        kete.kill()
    assert any("not available" in line or "unavailable" in line for line in seen), seen
    assert kete.returncode == 0, err
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM events").fetchone() == (2,)
    assert "dead" not in err.lower()
