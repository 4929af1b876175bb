"""A certificate authority for tests: a CA, a server certificate for 127.0.0.1/localhost, a client
certificate, and every store format KETE's loaders read, made on the spot.

For kete's tests and plugins' tests (``from kete_core.tls.testing import Pki``), as the original KETE's
``TlsMaterial`` made its test certificates. JKS stores are made by the JDK's ``keytool`` (as Java users
make them); PEM, DER, PKCS#7 and PKCS#12 by ``cryptography``.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOADER_KINDS = (
    "pem-file-path", "pem-file-text", "pem-file-base64", "der-file-path", "der-file-base64",
    "pkcs7-file-path", "pkcs7-file-base64", "pkcs12-file-path", "pkcs12-file-base64",
    "jks-file-path", "jks-file-base64",
)  # fmt: skip
"""The original KETE's 11 certificate-loader kinds."""

KEY_STORE_KINDS = tuple(kind for kind in LOADER_KINDS if not kind.startswith(("der", "pkcs7")))
"""The loader kinds that can hold a private key."""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes] | None,
    *,
    ca: bool = False,
    hosts: tuple[str, ...] = (),
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, signer = (issuer[0].subject, issuer[1]) if issuer else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        issuer_key = issuer[0].public_key()
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key),  # type: ignore[arg-type]
            critical=False,
        )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _pem(*items: x509.Certificate | ec.EllipticCurvePrivateKey) -> bytes:
    out = b""
    for item in items:
        if isinstance(item, x509.Certificate):
            out += item.public_bytes(serialization.Encoding.PEM)
        else:
            out += item.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
    return out


@dataclass
class Party:
    """A certificate, its key, and the CA chain above it."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...]

    def pem(self) -> bytes:
        """Key, certificate and chain, as one PEM file."""
        return _pem(self.key, self.certificate, *self.chain)

    def certificate_pem(self) -> bytes:
        """The certificate alone, as PEM."""
        return _pem(self.certificate)

    def key_pem(self, password: str | None = None) -> bytes:
        """The private key alone, as PKCS#8 PEM, encrypted with *password* if given."""
        if password is None:
            return _pem(self.key)
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password.encode()),
        )


class Pki:
    """A CA with a server and a client certificate, written under *folder*.

    :param hosts: the names and addresses the server certificate is valid for.
    """

    def __init__(self, folder: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = _certificate("kete test CA", ca_key, None, ca=True)
        self.ca_key = ca_key
        self.server = self._party("kete server", hosts, ExtendedKeyUsageOID.SERVER_AUTH)
        self.client = self._party("kete client", (), ExtendedKeyUsageOID.CLIENT_AUTH)
        self.ca_file = self.write("ca.pem", _pem(self.ca))
        self.server_file = self.write("server.pem", self.server.pem())
        self.client_file = self.write("client.pem", self.client.pem())

    def _party(self, name: str, hosts: tuple[str, ...], usage: x509.ObjectIdentifier) -> Party:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(name, key, (self.ca, self.ca_key), hosts=hosts, usage=usage)
        return Party(cert, key, (self.ca,))

    def write(self, name: str, data: bytes) -> Path:
        """Write *data* to *name* under the folder; return the path."""
        path = self.folder / name
        path.write_bytes(data)
        return path

    # ------------------------------------------------------------------ stores

    def store_bytes(
        self, fmt: str, *, key: bool, password: str | None = "changeit", party: Party | None = None
    ) -> bytes:
        """The trust store (the CA) or a key store (the client's, or *party*'s) in *fmt*: ``pem``, ``der``,
        ``pkcs7``, ``pkcs12`` or ``jks`` (made by keytool)."""
        party = party or self.client
        if fmt == "pem":
            return party.pem() if key else _pem(self.ca)
        if fmt == "der" and not key:
            return self.ca.public_bytes(serialization.Encoding.DER)
        if fmt == "pkcs7" and not key:
            return pkcs7.serialize_certificates([self.ca], serialization.Encoding.DER)
        if fmt == "pkcs12":
            encryption = (
                serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
            )
            if key:
                return pkcs12.serialize_key_and_certificates(
                    b"client", party.key, party.certificate, [self.ca], encryption
                )
            return pkcs12.serialize_key_and_certificates(None, None, None, [self.ca], encryption)
        if fmt == "jks":
            assert password, "keytool needs a password of 6 characters or more"
            return self.keytool_store("JKS", key=key, password=password, party=party)
        raise ValueError(f"no {'key' if key else 'trust'} store in format {fmt!r}")

    def store(
        self, kind: str, *, key: bool, password: str | None = "changeit", party: Party | None = None, **extra: Any
    ) -> dict[str, Any]:
        """The ``tls.trust-store`` / ``tls.key-store`` settings for loader *kind* (``jks-file-base64`` …);
        *extra* settings (``key-password``, ``type``) are added."""
        fmt, _file, source = kind.split("-")
        data = self.store_bytes(fmt, key=key, password=password, party=party)
        loader: dict[str, Any] = {"kind": kind}
        if source == "path":
            loader["path"] = str(self.write(f"{'key' if key else 'trust'}-{kind}-{id(data)}.{fmt}", data))
        elif source == "text":
            loader["text"] = data.decode()
        else:
            loader["base64"] = base64.b64encode(data).decode()
        settings: dict[str, Any] = {"loader": loader, **extra}
        if password is not None:
            settings["password"] = password
        return settings

    def keytool_store(
        self,
        store_type: str,
        *,
        key: bool,
        password: str,
        key_password: str | None = None,
        party: Party | None = None,
    ) -> bytes:
        """A store made by the JDK's keytool (``JKS`` or ``PKCS12``), as Java users make them: the CA as a
        trusted entry, or the client's (or *party*'s) key with its chain (its key protected by *key_password*,
        by default the store's password)."""
        party = party or self.client
        keytool = shutil.which("keytool")
        if keytool is None:
            raise RuntimeError("keytool (a JDK) is needed to make JKS stores")
        target = self.folder / f"keytool-{store_type}-{'key' if key else 'trust'}-{id(party)}-{key_password}.store"
        target.unlink(missing_ok=True)
        common = ["-noprompt", "-storetype", store_type, "-keystore", str(target), "-storepass", password]
        if key:
            source = self.write(
                "keytool-source.p12",
                pkcs12.serialize_key_and_certificates(
                    b"client",
                    party.key,
                    party.certificate,
                    [self.ca],
                    serialization.BestAvailableEncryption(b"source"),
                ),
            )
            command = [
                keytool, "-importkeystore", "-srckeystore", str(source), "-srcstoretype", "PKCS12",
                "-srcstorepass", "source", "-destkeystore", str(target), "-deststoretype", store_type,
                "-deststorepass", password, "-noprompt",
            ]  # fmt: skip
            # keytool would otherwise protect the key with the source store's password.
            command += ["-srcalias", "client", "-srckeypass", "source", "-destkeypass", key_password or password]
        else:
            command = [keytool, "-importcert", "-alias", "kete-ca", "-file", str(self.ca_file), *common]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"keytool failed: {result.stdout}{result.stderr}")
        return target.read_bytes()

    # ------------------------------------------------------------------ contexts for test servers and clients

    def server_context(self, *, require_client: bool = False, party: Party | None = None) -> ssl.SSLContext:
        """An SSL context for a test server with the server certificate (or *party*'s)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        party = party or self.server
        context.load_cert_chain(self.write(f"serve-{id(party)}.pem", party.pem()))
        if require_client:
            context.load_verify_locations(cafile=self.ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def client_context(self, *, with_cert: bool = True) -> ssl.SSLContext:
        """An SSL context for a test client that trusts the CA and, if asked, shows the client certificate."""
        context = ssl.create_default_context(cafile=self.ca_file)
        if with_cert:
            context.load_cert_chain(self.client_file)
        return context

    def party(self, name: str, hosts: tuple[str, ...]) -> Party:
        """Another certificate signed by this CA (a server with other names, say)."""
        return self._party(name, hosts, ExtendedKeyUsageOID.SERVER_AUTH)
