"""kete_core.tls: the 11 certificate loaders, KETE's password fallback, errors that name the setting,
and a certificate loader added by a plugin."""

from __future__ import annotations

import base64
import logging
import shutil
import ssl
import subprocess
import sys
import textwrap

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from kete_core import (
    ServerTlsSettings,
    TlsSettings,
    client_ssl_context,
    enabled_client_ssl,
    load_tls,
    server_ssl_context,
)
from kete_core.errors import ConfigErrors
from kete_core.testing import run_kete
from kete_core.tls import jks
from kete_core.tls.testing import KEY_STORE_KINDS, LOADER_KINDS, Pki

PATH = "routes.r.destination.tls"
needs_keytool = pytest.mark.skipif(shutil.which("keytool") is None, reason="needs the JDK's keytool")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def load(**settings):
    return load_tls(TlsSettings.model_validate(settings), PATH)


def errors(**settings) -> dict[str, str]:
    with pytest.raises(ConfigErrors) as caught:
        load(**settings)
    return {error.path: str(error) for error in caught.value.errors}


def _keytool_skip(kind: str) -> None:
    if kind.startswith("jks") and shutil.which("keytool") is None:
        pytest.skip("needs the JDK's keytool")


@pytest.mark.parametrize("kind", LOADER_KINDS)
def test_each_kind_loads_a_trust_store(kind, pki):
    _keytool_skip(kind)
    material = load(**{"trust-store": pki.store(kind, key=False)})
    assert material.trusted == (pki.ca,)
    assert material.identity is None
    pem = material.ca_pem()
    assert pem.startswith(pki.ca.public_bytes(serialization.Encoding.PEM).decode())
    assert pem.count("BEGIN CERTIFICATE") > 1  # the system's CAs are added, as KETE adds the JVM's


@pytest.mark.parametrize("kind", KEY_STORE_KINDS)
def test_each_key_store_kind_gives_the_key_and_its_chain(kind, pki):
    _keytool_skip(kind)
    material = load(**{"key-store": pki.store(kind, key=True)})
    assert material.identity.chain == (pki.client.certificate, pki.ca)
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert material.identity.key.public_key().public_bytes(*public) == pki.client.key.public_key().public_bytes(*public)
    assert material.certificate_pem().count("BEGIN CERTIFICATE") == 2
    assert material.private_key_pem().startswith("-----BEGIN PRIVATE KEY-----")
    assert material.private_key_pem("x").startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")


@pytest.mark.parametrize("fmt", ["pkcs12-file-base64", "jks-file-base64"])
def test_pkcs12_and_jks_loaders_each_read_both_formats(fmt, pki):
    """Java's key stores are dual-format: either loader reads a JKS or a PKCS#12 store, by its content."""
    _keytool_skip("jks")
    for other in ("pkcs12", "jks"):
        data = pki.store_bytes(other, key=True, password="changeit")
        store = {"loader": {"kind": fmt, "base64": base64.b64encode(data).decode()}, "password": "changeit"}
        assert load(**{"key-store": store}).identity.chain[0] == pki.client.certificate


def test_pem_key_ordering_and_encrypted_keys(pki):
    """A PEM bundle may list the CA first; an encrypted key opens with key-password."""
    bundle = pki.ca.public_bytes(serialization.Encoding.PEM) + pki.client.certificate_pem()
    bundle += pki.client.key_pem(password="pem-secret")
    store = {"loader": {"kind": "pem-file-text", "text": bundle.decode()}, "key-password": "pem-secret"}
    assert load(**{"key-store": store}).identity.chain == (pki.client.certificate, pki.ca)
    found = errors(**{"key-store": {**store, "key-password": "nope"}})
    assert list(found) == [f"{PATH}.key-store.key-password"]


@pytest.mark.parametrize("fallback", ["changeit", "secret", ""])
def test_password_fallback_opens_a_store_with_a_default_password(fallback, pki, caplog):
    data = pki.store_bytes("pkcs12", key=True, password=fallback)
    store = {"loader": {"kind": "pkcs12-file-base64", "base64": base64.b64encode(data).decode()}}
    assert load(**{"key-store": store}).identity is not None  # no password configured
    with caplog.at_level(logging.WARNING, logger="kete.tls"):
        assert load(**{"key-store": {**store, "password": "wrong"}}).identity is not None
    assert "store password is wrong" in caplog.text and "wrong" not in caplog.text.replace("is wrong", "")


def test_a_wrong_password_names_the_password_setting(pki):
    store = pki.store("pkcs12-file-path", key=True, password="right-one") | {"password": "wrong-one"}
    found = errors(**{"key-store": store, "trust-store": pki.store("pkcs12-file-path", key=False, password="x1")})
    assert set(found) == {f"{PATH}.key-store.password"}
    assert "'changeit' or 'secret'" in found[f"{PATH}.key-store.password"]
    assert "right-one" not in str(found) and "wrong-one" not in str(found)


@needs_keytool
def test_jks_keys_try_key_password_then_the_store_password_then_defaults(pki):
    def store(**extra):
        data = pki.keytool_store("JKS", key=True, **extra)
        return {"loader": {"kind": "jks-file-base64", "base64": base64.b64encode(data).decode()}}

    separate = store(password="storepass", key_password="keypass1")
    assert load(**{"key-store": separate | {"password": "storepass", "key-password": "keypass1"}}).identity
    assert load(**{"key-store": store(password="storepass") | {"password": "storepass"}}).identity
    assert load(**{"key-store": store(password="changeit", key_password="secret")}).identity
    found = errors(**{"key-store": separate | {"password": "storepass", "key-password": "other1"}})
    assert list(found) == [f"{PATH}.key-store.key-password"]


@needs_keytool
def test_a_jks_trust_store_opens_without_its_password_as_in_java(pki):
    """Java skips a JKS store's integrity check when no password opens it; KETE's fallback tries none."""
    trust = pki.keytool_store("JKS", key=False, password="storepass")
    store = {"loader": {"kind": "jks-file-base64", "base64": base64.b64encode(trust).decode()}, "password": "bad"}
    assert load(**{"trust-store": store}).trusted == (pki.ca,)
    with pytest.raises(jks.JksPasswordError):
        jks.read_jks(trust, "bad")
    tampered = trust[:40] + bytes([trust[40] ^ 1]) + trust[41:]
    with pytest.raises(jks.JksPasswordError):
        jks.read_jks(tampered, "storepass")


def test_unreadable_material_names_the_setting(pki, tmp_path):
    (tmp_path / "junk.p12").write_bytes(b"\x30\x03junk")
    found = errors(
        **{
            "trust-store": {"loader": {"kind": "der-file-path", "path": str(tmp_path / "missing.der")}},
            "key-store": {"loader": {"kind": "pkcs12-file-base64", "base64": "%%% not base64"}},
        }
    )
    assert "No such file" in found[f"{PATH}.trust-store.loader.path"]
    assert "not valid base64" in found[f"{PATH}.key-store.loader.base64"]
    found = errors(**{"trust-store": {"loader": {"kind": "jks-file-path", "path": str(tmp_path / "junk.p12")}}})
    assert "neither a JKS nor a PKCS#12 store" in found[f"{PATH}.trust-store.loader"]
    found = errors(**{"trust-store": {"loader": {"kind": "pkcs7-file-text", "text": "x"}}})
    assert "unknown certificate loader kind 'pkcs7-file-text'" in found[f"{PATH}.trust-store.loader.kind"]
    found = errors(**{"trust-store": {"loader": {"kind": "pem-file-path", "base64": "eA=="}}})
    assert set(found) == {f"{PATH}.trust-store.loader.base64", f"{PATH}.trust-store.loader.path"}


def test_a_key_store_needs_a_key_and_a_key_capable_format(pki):
    found = errors(**{"key-store": pki.store("pem-file-path", key=False)})
    assert "holds no private key" in found[f"{PATH}.key-store.loader"]
    for kind in ("der-file-base64", "pkcs7-file-path"):
        found = errors(**{"key-store": pki.store(kind, key=False)})
        assert "can only be a trust store" in found[f"{PATH}.key-store.loader.kind"]
    trust_p12 = pki.store("pkcs12-file-base64", key=False)
    assert "holds no private key" in errors(**{"key-store": trust_p12})[f"{PATH}.key-store.loader"]
    assert list(errors(**{"key-store": {"password": "x"}})) == [f"{PATH}.key-store.loader.kind"]


def test_kete_pem_file_settings(pki, tmp_path):
    cert = pki.write("client-cert.pem", pki.client.certificate_pem())
    key = pki.write("client-key.pem", pki.client.key_pem())
    material = load(**{"ca-file": str(pki.ca_file), "cert-file": str(cert), "key-file": str(key)})
    assert material.trusted == (pki.ca,) and material.identity.chain == (pki.client.certificate,)
    assert list(errors(**{"key-file": str(key)})) == [f"{PATH}.cert-file"]
    assert "no private key" in errors(**{"cert-file": str(cert)})[f"{PATH}.cert-file"]
    assert list(errors(**{"cert-file": str(pki.client_file), "key-store": pki.store("pem-file-path", key=True)})) == [
        f"{PATH}.key-store"
    ]


def test_settings_accept_kete_names_case_insensitively():
    settings = TlsSettings.model_validate(
        {
            "version": "TLSv1.2",
            "trust-store": {"type": "JKS", "trust-manager-algorithm": "PKIX", "loader": {"kind": "PEM-FILE-TEXT"}},
            "key-store": {"type": "PKCS12", "key-manager-algorithm": "SunX509", "loader": {"kind": "jks-file-path"}},
        }
    )
    assert settings.version == "tlsv1.2" and settings.trust_store.loader.kind == "pem-file-text"
    assert settings.verify_hostname is True  # kete's default; KETE's was false
    for bad in ({"version": "TLSv1.1"}, {"trust-store": {"type": "BKS"}}):
        with pytest.raises(ValueError):
            TlsSettings.model_validate(bad)


def test_importing_kete_core_leaves_tls_alone():
    """TLS is loaded on first use: ``kete --help`` and ``kete plugins`` import neither it nor cryptography."""
    code = "import sys, kete_core.cli; print(any(m.startswith(('kete_core.tls', 'cryptography')) for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_contexts(pki):
    client = client_ssl_context(TlsSettings.model_validate({"version": "TLSv1.2", "verify-hostname": False}), PATH)
    assert client.maximum_version == ssl.TLSVersion.TLSv1_2 and not client.check_hostname
    assert client.verify_mode == ssl.CERT_REQUIRED
    unverified = client_ssl_context(TlsSettings(verify=False), PATH)
    assert unverified.verify_mode == ssl.CERT_NONE
    server = server_ssl_context(
        ServerTlsSettings.model_validate({"cert-file": str(pki.server_file), "client-ca-file": str(pki.ca_file)}), PATH
    )
    assert server.verify_mode == ssl.CERT_REQUIRED
    # only the configured CAs sign accepted client certificates, never the system's
    assert len(server.get_ca_certs()) == 1
    assert server_ssl_context(ServerTlsSettings(), PATH) is None


def test_enabled_client_ssl_reads_the_stores_even_when_tls_is_off(pki, tmp_path):
    trusted = {"trust-store": pki.store("pem-file-path", key=False)}
    assert enabled_client_ssl(TlsSettings.model_validate(trusted), PATH) is None
    context = enabled_client_ssl(TlsSettings.model_validate({**trusted, "enabled": True}), PATH)
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    missing = {"trust-store": {"loader": {"kind": "der-file-path", "path": str(tmp_path / "missing.der")}}}
    with pytest.raises(ConfigErrors, match="No such file"):
        enabled_client_ssl(TlsSettings.model_validate(missing), PATH)


def test_a_key_that_does_not_match_its_certificate(pki):
    other = pki.party("other", ("localhost",))
    bundle = pki.client.certificate_pem() + other.key_pem()
    pki.write("mismatch.pem", bundle)
    found = errors(**{"cert-file": str(pki.folder / "mismatch.pem")})
    assert "does not belong to the certificate 'CN=kete client'" in found[f"{PATH}.cert-file"]


def test_java_made_pkcs12_with_a_trusted_certificate(pki):
    if shutil.which("keytool") is None:
        pytest.skip("needs the JDK's keytool")
    data = pki.keytool_store("PKCS12", key=False, password="changeit")
    assert pkcs12.load_pkcs12(data, b"changeit").cert is None
    store = {"loader": {"kind": "pkcs12-file-base64", "base64": base64.b64encode(data).decode()}}
    assert load(**{"trust-store": store}).trusted == (pki.ca,)


def test_a_plugin_adds_a_certificate_loader(pki, tmp_path):
    """A distribution declares a loader under kete.certificate_loaders; ``kete check`` finds and validates it."""
    site = tmp_path / "site"
    dist_info = site / "acme_vault-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-vault\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[kete.certificate_loaders]\npem-env = acme_vault:PemFromEnvironment\n")
    (site / "acme_vault.py").write_text(
        textwrap.dedent(
            """
            import os
            from kete_core import CertificateLoader, ComponentConfig, StoreContents, TlsMaterialError

            class Settings(ComponentConfig):
                variable: str

            class PemFromEnvironment(CertificateLoader):
                Config = Settings

                def load(self, password):
                    from kete_core.tls.formats import parse_pem

                    text = os.environ.get(self.config.variable)
                    if text is None:
                        raise TlsMaterialError(f"${self.config.variable} is not set", setting="loader.variable")
                    return parse_pem(text.encode())
            """
        )
    )
    config = tmp_path / "kete.toml"

    def check(loader: str) -> tuple[int, str]:
        config.write_text(
            f"[kete]\ndata-dir = '{tmp_path}'\n"
            f"[sources.hook]\nkind = 'file'\npath = '{tmp_path}/in.jsonl'\n"
            f"[routes.siem]\ndestination.kind = 'http'\ndestination.url = 'https://127.0.0.1:1/'\n"
            f"destination.tls.trust-store.loader = {loader}\n"
        )
        result = run_kete("check", str(config), env={"PYTHONPATH": str(site), "ACME_CA": pki.ca_file.read_text()})
        return result.returncode, result.stdout + result.stderr

    assert check("{kind = 'pem-env', variable = 'ACME_CA'}")[0] == 0
    code, output = check("{kind = 'pem-env', variable = 'ACME_NONE'}")
    assert code == 2 and "routes.siem.destination.tls.trust-store.loader.variable: $ACME_NONE is not set" in output
    code, output = check("{kind = 'pem-env'}")
    assert code == 2 and "routes.siem.destination.tls.trust-store.loader.variable: Field required" in output
    code, output = check("{kind = 'pem-enb'}")
    assert code == 2 and "unknown certificate loader kind 'pem-enb'" in output and "did you mean 'pem-env'" in output


def test_der_and_pkcs7_loaders_read_what_javas_certificate_factory_reads(pki):
    pem = pki.ca.public_bytes(serialization.Encoding.PEM)
    assert load(**{"trust-store": {"loader": {"kind": "der-file-base64", "base64": base64.b64encode(pem).decode()}}})
    from cryptography.hazmat.primitives.serialization import pkcs7

    bundle = pkcs7.serialize_certificates([pki.ca, pki.server.certificate], serialization.Encoding.PEM)
    store = {"loader": {"kind": "pkcs7-file-base64", "base64": base64.b64encode(bundle).decode()}}
    assert {cert.subject for cert in load(**{"trust-store": store}).trusted} == {
        pki.ca.subject,
        pki.server.certificate.subject,
    }
    assert isinstance(pki.ca, x509.Certificate)
