"""The Admin API poller's TLS settings go through kete's TLS facility: ``kete check`` reports a bad CA file,
and a CA file is trusted besides the system's CAs."""

from __future__ import annotations

import ssl

from kete_keycloak.client import make_ssl_context

from kete_core.testing import run_kete
from kete_core.tls.testing import Pki

SOURCE = """
[sources.kc]
kind = "keycloak-admin-api"
server = "https://sso.example/"
client-id = "kete"
client-secret = "s3cret"
realms = "acme"
{extra}

[routes.all]
destination.kind = "stdout"
"""


def test_kete_check_names_an_unreadable_ca_file(tmp_path):
    config = tmp_path / "kete.toml"
    config.write_text(SOURCE.format(extra=f'ca-file = "{tmp_path / "missing.pem"}"'))
    result = run_kete("check", str(config))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "sources.kc.ca-file: cannot read" in result.stderr


def test_a_ca_file_is_trusted_besides_the_system_cas(tmp_path):
    pki = Pki(tmp_path / "pki")
    context = make_ssl_context(True, str(pki.ca_file), "sources.kc")
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    subjects = [dict(pair[0] for pair in cert["subject"]).get("commonName") for cert in context.get_ca_certs()]
    assert "kete test CA" in subjects and len(subjects) > 1
    unchecked = make_ssl_context(False, None)
    assert unchecked is not None and unchecked.verify_mode == ssl.CERT_NONE
    assert make_ssl_context(True, None) is None
