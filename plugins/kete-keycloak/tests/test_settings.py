"""Settings of both sources, checked by ``kete check`` through the installed entry points (no server needed)."""

from __future__ import annotations

import pytest

from kete_core.errors import ConfigError
from kete_core.testing import load_app, run_kete

ROUTE = '\n[routes.all]\ndestination.kind = "stdout"\n'


def check(tmp_path, source: str):
    config = tmp_path / "kete.toml"
    config.write_text(f"[sources.kc]\n{source}\n{ROUTE}")
    return run_kete("check", str(config))


def load(tmp_path, source: str):
    config = tmp_path / "kete.toml"
    config.write_text(f"[sources.kc]\n{source}\n{ROUTE}")
    return load_app(config)


def test_valid_settings_pass_kete_check(tmp_path):
    poller = check(tmp_path, """
kind = "keycloak-admin-api"
server = "https://sso.example/auth/"
realms = "acme, partners"
client-id = "kete"
client-secret = "s3cret"
event-types = "LOGIN, LOGIN_ERROR"
interval = "10s"
settle-lag = "PT5S"
""")  # fmt: skip
    assert poller.returncode == 0, poller.stderr
    follower = check(tmp_path, """
kind = "keycloak-log"
path = "/var/log/keycloak/keycloak.log"
format = "json"
timezone = "Europe/Berlin"
""")  # fmt: skip
    assert follower.returncode == 0, follower.stderr


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ('realms = "*, acme"', "'*' stands for every realm"),
        ('realms = ""', "name at least one realm"),
        ('realms = "acme"\nserver = "sso.example"', "must be an http:// or https:// URL"),
        ('realms = "acme"\nuser-events = false\nadmin-events = false', "nothing to poll"),
        ('realms = "acme"\npage-size = 500\nmax-page-size = 100', "page-size must not exceed max-page-size"),
        ('realms = "acme"\nmode = "fast"', "mode"),
        ('realms = "acme"\ninterval = "soon"', "not a duration"),
    ],
)
def test_poller_settings_errors(tmp_path, settings, error):
    base = 'kind = "keycloak-admin-api"\nclient-id = "kete"\nclient-secret = "never-shown"\n'
    if "server" not in settings:
        base += 'server = "http://127.0.0.1:8080"\n'
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, base + settings)
    assert error in str(raised.value)
    assert "never-shown" not in str(raised.value)


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ('timezone = "Mars/Olympus"', "unknown time zone"),
        ('plain-pattern = "(?P<time>.*)"', "needs the named groups logger, message"),
        ('plain-pattern = "("', "not a regular expression"),
        ('start-at = "middle"', "start-at"),
    ],
)
def test_follower_settings_errors(tmp_path, settings, error):
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, f'kind = "keycloak-log"\npath = "k.log"\n{settings}')
    assert error in str(raised.value)
