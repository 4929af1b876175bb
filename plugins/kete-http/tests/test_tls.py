"""HTTPS and mutual TLS with a CA, a server and a client certificate made for the test session."""

from __future__ import annotations

import base64

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from kete_http.settings import HttpSinkConfig
from kete_http.sink import HttpError, HttpSink

from kete_core.errors import ConfigError

ONE_TRY = {"retry-attempts": 1}


async def _failure(sink, message) -> BaseException:
    """The error a one-message send ends with, whether returned or raised as an outage."""
    try:
        (error,) = await sink.send([message])
    except Exception as outage:  # kete-core's Unavailable: the whole destination is unreachable
        error = outage.__cause__
    return error


async def test_sink_mutual_tls_with_kete_settings(ev, pki, start_receiver, make_sink):
    receiver = await start_receiver(pki.server_context(require_client=True))
    sink = make_sink(
        url=receiver.url + "/in",
        tls={"ca-file": str(pki.ca), "cert-file": str(pki.client_cert), "key-file": str(pki.client_key)},
    )
    assert await sink.send([ev.user(id="1"), ev.user(id="2")]) is None
    assert len(receiver.requests) == 2
    subject = dict(pair[0] for pair in receiver.requests[0].peer_cert["subject"])
    assert subject["commonName"] == "kete client"


async def test_sink_mutual_tls_with_kete_certificate_loaders(ev, pki, start_receiver, make_sink):
    receiver = await start_receiver(pki.server_context(require_client=True))
    port = int(receiver.url.rsplit(":", 1)[1])
    sink = make_sink(
        host="127.0.0.1",
        port=port,
        tls={
            "enabled": "true",
            "trust-store": {"loader": {"kind": "PEM-FILE-TEXT", "text": pki.ca.read_text()}, "type": "PKCS12"},
            "key-store": {
                "loader": {
                    "kind": "pem-file-base64",
                    "base64": base64.b64encode(pki.client_bundle.read_bytes()).decode(),
                },
                "password": "ignored for PEM without a passphrase",
            },
        },
    )
    assert await sink.send([ev.user()]) is None
    assert receiver.requests[0].peer_cert is not None


async def test_sink_trusts_a_der_ca(ev, pki, start_receiver, make_sink):
    receiver = await start_receiver(pki.server_context(require_client=False))
    der = x509.load_pem_x509_certificate(pki.ca.read_bytes()).public_bytes(serialization.Encoding.DER)
    sink = make_sink(
        url=receiver.url,
        tls={"trust-store": {"loader": {"kind": "der-file-base64", "base64": base64.b64encode(der).decode()}}},
    )
    assert await sink.send([ev.user()]) is None


async def test_sink_without_client_certificate_is_refused(ev, pki, start_receiver, make_sink):
    receiver = await start_receiver(pki.server_context(require_client=True))
    sink = make_sink(url=receiver.url, tls={"ca-file": str(pki.ca)}, **ONE_TRY)
    error = await _failure(sink, ev.user())
    assert isinstance(error, HttpError) and error.status is None
    assert not receiver.requests


async def test_sink_verifies_the_server_by_default(ev, pki, start_receiver, make_sink):
    receiver = await start_receiver(pki.server_context(require_client=False))
    untrusting = make_sink(url=receiver.url, tls={"ca-file": str(pki.other_ca)}, **ONE_TRY)
    error = await _failure(untrusting, ev.user())
    assert isinstance(error, HttpError) and "certificate verify failed" in str(error)
    by_name = make_sink(url=receiver.url.replace("127.0.0.1", "localhost"), tls={"ca-file": str(pki.ca)})
    assert await by_name.send([ev.user()]) is None
    unverified = make_sink(url=receiver.url, tls={"verify": False})
    assert await unverified.send([ev.user()]) is None
    assert len(receiver.requests) == 2


def test_unreadable_tls_material_is_a_config_error(ev, pki, tmp_path):
    with pytest.raises(ConfigError, match="cannot load the TLS material") as caught:
        HttpSink(
            HttpSinkConfig.model_validate({"url": "https://x/", "tls": {"ca-file": str(tmp_path / "none.pem")}}),
            ev.context(),
        )
    assert caught.value.path == "routes.r.destination.tls"
    with pytest.raises(ConfigError, match="cannot load the TLS material"):
        HttpSink(HttpSinkConfig.model_validate({"url": "https://x/", "tls": {"cert-file": str(pki.ca)}}), ev.context())


async def test_source_over_https_requires_a_client_certificate(pki, webhook):
    settings = {"cert-file": str(pki.server_cert), "key-file": str(pki.server_key), "client-ca-file": str(pki.ca)}
    hook = await webhook(client_ssl=pki.client_context(with_cert=True), tls=settings)
    assert hook.url.startswith("https://")
    assert (await hook.post({"type": "LOGIN"}))[:2] == (202, {"accepted": 1})
    anonymous = await webhook(client_ssl=pki.client_context(with_cert=False), tls=settings)
    with pytest.raises(aiohttp.ClientError):
        await anonymous.post({"type": "LOGIN"})
    assert len(anonymous.intake.batches) == 0


async def test_source_over_https_without_client_certificates(pki, webhook):
    hook = await webhook(
        client_ssl=pki.client_context(with_cert=False),
        tls={"cert-file": str(pki.server_cert), "key-file": str(pki.server_key), "version": "TLSv1.3"},
    )
    assert (await hook.post([{"type": "LOGIN"}, {"type": "LOGOUT"}]))[0] == 202


async def test_the_sink_feeds_the_source_over_mutual_tls(ev, pki, webhook, make_sink):
    settings = {"cert-file": str(pki.server_cert), "key-file": str(pki.server_key), "client-ca-file": str(pki.ca)}
    hook = await webhook(client_ssl=pki.client_context(), tls=settings, signing={"secret": "k"})
    sink = make_sink(
        url=hook.url,
        signing={"secret": "k"},
        **{"content-encoding": "deflate"},
        tls={"ca-file": str(pki.ca), "cert-file": str(pki.client_bundle)},
    )
    assert await sink.send([ev.user(id="a"), ev.admin(id="b")]) is None
    assert sorted(event.id for event in hook.intake.events) == ["a", "b"]
