"""KETE's NATS settings: defaults, ``authentication-method`` and what each method needs, credentials
files given three ways, and the warning about a JWT that expires soon."""

from __future__ import annotations

import base64
import json
import logging
import time

import pytest
from kete_nats.connection import connect_options, jwt_expiry
from nats.aio.client import RawCredentials

from kete_core import ConfigError
from kete_core.testing import build_sink, run_kete

BASE = {"servers": "nats://n1:4222, nats://n2:4222", "subject": "keycloak.${realmLowerCase}"}


def creds(expires_in_days: float | None) -> str:
    """A credentials file whose user JWT expires in *expires_in_days* (never when None)."""
    claims = {"jti": "x", "sub": "UABC", "nats": {"type": "user"}}
    if expires_in_days is not None:
        claims["exp"] = int(time.time() + expires_in_days * 86400)

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    jwt = f"{part({'typ': 'JWT', 'alg': 'ed25519-nkey'})}.{part(claims)}.c2lnbmF0dXJl"
    return (
        f"-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n"
        "-----BEGIN USER NKEY SEED-----\nSUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n"
        "------END USER NKEY SEED------\n"
    )


def test_kete_defaults():
    sink = build_sink("nats-jetstream", {**BASE, "stream": "KEYCLOAK", "authentication-method": "none"})
    config = sink.config
    assert config.servers == ["nats://n1:4222", "nats://n2:4222"]
    assert (config.connection_name, config.connection_timeout_seconds, config.ping_interval_seconds) == ("kete", 10, 60)
    assert config.publish_timeout_seconds == 10
    options = connect_options(config, "routes.r.destination")
    assert options["name"] == "kete" and options["allow_reconnect"] is False
    assert "tls" not in options and "user" not in options


def test_authentication_method_is_required_as_in_kete():
    with pytest.raises(ConfigError) as caught:
        build_sink("nats", BASE)
    assert "authentication-method" in str(caught.value)


@pytest.mark.parametrize(
    ("method", "missing"),
    [
        ("username-and-password", "password"),
        ("token", "token"),
        ("nkey", "nkey-seed"),
        ("credentials-file-path", "credentials-file-path"),
        ("credentials-file-text", "credentials-file-text"),
        ("credentials-file-base64", "credentials-file-base64"),
    ],
)
def test_each_method_names_what_it_needs(method, missing):
    settings = {**BASE, "authentication-method": method}
    if method == "username-and-password":
        settings["username"] = "kete"
    with pytest.raises(ConfigError) as caught:
        build_sink("nats", settings)
    assert caught.value.path == f"routes.contract.destination.{missing}"
    assert caught.value.message == f"required when authentication-method is {method}"


@pytest.mark.parametrize("way", ["path", "text", "base64"])
def test_a_credentials_file_three_ways(tmp_path, way, caplog):
    text = creds(10.5)
    value = {"path": str(tmp_path / "user.creds"), "text": text, "base64": base64.b64encode(text.encode()).decode()}
    (tmp_path / "user.creds").write_text(text)
    with caplog.at_level(logging.WARNING, logger="kete.nats"):
        sink = build_sink(
            "nats", {**BASE, "authentication-method": f"credentials-file-{way}", f"credentials-file-{way}": value[way]}
        )
        options = connect_options(sink.config, "routes.r.destination")
    assert isinstance(options["user_credentials"], RawCredentials)
    assert str(options["user_credentials"]) == text
    assert "the NATS JWT expires in 10 day(s); a longer-lived JWT suits a service" in caplog.text


def test_jwt_expiry_warnings(caplog):
    assert jwt_expiry(creds(None)) is None
    assert jwt_expiry("no jwt here") is None
    with caplog.at_level(logging.WARNING, logger="kete.nats"):
        build_sink(
            "nats", {**BASE, "authentication-method": "credentials-file-text", "credentials-file-text": creds(90)}
        )
        assert not caplog.text
        build_sink(
            "nats", {**BASE, "authentication-method": "credentials-file-text", "credentials-file-text": creds(-3.5)}
        )
    assert "the NATS JWT expired 3 day(s) ago; authentication will fail" in caplog.text


def test_a_missing_credentials_file_and_bad_base64_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        build_sink(
            "nats",
            {**BASE, "authentication-method": "credentials-file-path", "credentials-file-path": str(tmp_path / "x")},
        )
    with pytest.raises(ConfigError, match="not valid Base64"):
        build_sink(
            "nats", {**BASE, "authentication-method": "credentials-file-base64", "credentials-file-base64": "%%%"}
        )


def test_kete_check_never_shows_the_secret(tmp_path):
    config = tmp_path / "kete.properties"
    config.write_text(
        "kete.routes.r.destination.kind=nats\nkete.routes.r.destination.servers=nats://n:4222\n"
        "kete.routes.r.destination.subject=a.b\nkete.routes.r.destination.authentication-method=tokn\n"
        "kete.routes.r.destination.token=s3cr3t-t0ken\n"
    )
    result = run_kete("check", str(config))
    assert result.returncode == 2
    assert "routes.r.destination.authentication-method" in result.stderr
    assert "s3cr3t-t0ken" not in result.stderr
