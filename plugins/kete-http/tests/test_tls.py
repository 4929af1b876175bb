"""HTTPS and mutual TLS with every certificate-loader kind, against real aiohttp servers.

The CA, server and client certificates and every store (PEM, DER, PKCS#7, PKCS#12, JKS by keytool) are made
by the test (``kete_core.tls.testing.Pki``).
"""

from __future__ import annotations

import base64
import json
import shutil

import aiohttp
import pytest
from kete_http.sink import HttpError

from kete_core.errors import ConfigError
from kete_core.pipeline import Pipeline
from kete_core.testing import load_app, run_kete, write_jsonl
from kete_core.tls.testing import KEY_STORE_KINDS, LOADER_KINDS

ONE_TRY = {"retry-attempts": 1}
needs_keytool = pytest.mark.skipif(shutil.which("keytool") is None, reason="needs the JDK's keytool")


def _toml(prefix: str, value) -> list[str]:
    if isinstance(value, dict):
        return [line for key, item in value.items() for line in _toml(f"{prefix}.{key}", item)]
    return [f"{prefix} = {json.dumps(value)}"]


def _config(tmp_path, url: str, tls: dict) -> str:
    events = write_jsonl(
        tmp_path / "events.jsonl", [{"id": f"e{n}", "type": "LOGIN", "realmName": "acme"} for n in range(3)]
    )
    lines = [
        "[kete]", f'data-dir = "{tmp_path / "state"}"', "",
        "[sources.replay]", 'kind = "file"', f'path = "{events}"', "",
        "[routes.siem]", 'destination.kind = "http"', f'destination.url = "{url}/in"',
        *_toml("destination.tls", tls),
    ]  # fmt: skip
    config = tmp_path / "kete.toml"
    config.write_text("\n".join(lines) + "\n")
    return str(config)


async def _run(tmp_path, url: str, tls: dict):
    """Replay three events through ``kete``'s pipeline to the receiver at *url*."""
    stats = await Pipeline(load_app(_config(tmp_path, url, tls))).run()
    return stats.routes["siem"]


async def _failure(sink, message) -> BaseException:
    """The error a one-message send ends with, whether returned or raised as an outage."""
    try:
        (error,) = await sink.send([message])
    except Exception as outage:  # kete-core's Unavailable: the whole destination is unreachable
        error = outage.__cause__
    return error


@pytest.mark.parametrize("kind", LOADER_KINDS)
async def test_each_loader_kind_is_a_trust_store_for_https(kind, pki, start_receiver, tmp_path):
    if kind.startswith("jks") and shutil.which("keytool") is None:
        pytest.skip("needs the JDK's keytool")
    receiver = await start_receiver(pki.server_context())
    route = await _run(tmp_path, receiver.url, {"trust-store": pki.store(kind, key=False)})
    assert route.delivered == 3
    assert sorted(request.json()["id"] for request in receiver.requests) == ["e0", "e1", "e2"]


@pytest.mark.parametrize("kind", KEY_STORE_KINDS)
async def test_each_key_store_kind_is_a_client_certificate_for_mutual_tls(kind, pki, start_receiver, tmp_path):
    if kind.startswith("jks") and shutil.which("keytool") is None:
        pytest.skip("needs the JDK's keytool")
    receiver = await start_receiver(pki.server_context(require_client=True))
    tls = {"trust-store": pki.store("pem-file-path", key=False), "key-store": pki.store(kind, key=True)}
    route = await _run(tmp_path, receiver.url, tls)
    assert route.delivered == 3
    subject = dict(pair[0] for pair in receiver.requests[0].peer_cert["subject"])
    assert subject["commonName"] == "kete client"


@needs_keytool
async def test_java_made_stores_with_their_own_passwords(ev, pki, start_receiver, make_sink):
    receiver = await start_receiver(pki.server_context(require_client=True))
    trust = pki.keytool_store("PKCS12", key=False, password="trustpass")
    jks = pki.keytool_store("JKS", key=True, password="storepass", key_password="keypass22")
    sink = make_sink(
        url=receiver.url,
        tls={
            "trust-store": {"loader": {"kind": "pkcs12-file-base64", "base64": base64.b64encode(trust).decode()},
                            "password": "trustpass", "type": "PKCS12", "trust-manager-algorithm": "PKIX"},
            "key-store": {"loader": {"kind": "jks-file-base64", "base64": base64.b64encode(jks).decode()},
                          "password": "storepass", "key-password": "keypass22", "type": "JKS",
                          "key-manager-algorithm": "SunX509"},
        },
    )  # fmt: skip
    assert await sink.send([ev.user(id="1")]) is None
    assert receiver.requests[0].peer_cert is not None


async def test_verify_hostname_is_on_by_default(ev, pki, start_receiver, make_sink):
    elsewhere = pki.party("somewhere else", ("other.example",))
    receiver = await start_receiver(pki.server_context(party=elsewhere))
    trust = {"trust-store": pki.store("pem-file-path", key=False)}
    checking = make_sink(url=receiver.url, tls=trust, **ONE_TRY)
    error = await _failure(checking, ev.user())
    assert isinstance(error, HttpError) and "certificate verify failed" in str(error)
    assert "127.0.0.1" in str(error)
    trusting = make_sink(url=receiver.url, tls={**trust, "verify-hostname": "false"})
    assert await trusting.send([ev.user()]) is None
    assert len(receiver.requests) == 1


async def test_the_chain_is_still_verified_without_the_hostname_check(ev, pki, other_pki, start_receiver, make_sink):
    receiver = await start_receiver(other_pki.server_context())
    sink = make_sink(url=receiver.url, tls={"ca-file": str(pki.ca_file), "verify-hostname": False}, **ONE_TRY)
    error = await _failure(sink, ev.user())
    assert isinstance(error, HttpError) and "certificate verify failed" in str(error)
    unverified = make_sink(url=receiver.url, tls={"verify": False})
    assert await unverified.send([ev.user()]) is None


async def test_kete_pem_file_settings(ev, pki, start_receiver, make_sink):
    receiver = await start_receiver(pki.server_context(require_client=True))
    cert = pki.write("client-cert.pem", pki.client.certificate_pem())
    key = pki.write("client-key.pem", pki.client.key_pem(password="pem-pass"))
    sink = make_sink(
        url=receiver.url.replace("127.0.0.1", "localhost"),
        tls={"ca-file": str(pki.ca_file), "cert-file": str(cert), "key-file": str(key), "key-password": "pem-pass"},
    )
    assert await sink.send([ev.user(id="1"), ev.user(id="2")]) is None
    assert len(receiver.requests) == 2


async def test_sink_without_client_certificate_is_refused(ev, pki, start_receiver, make_sink):
    receiver = await start_receiver(pki.server_context(require_client=True))
    sink = make_sink(url=receiver.url, tls={"ca-file": str(pki.ca_file)}, **ONE_TRY)
    error = await _failure(sink, ev.user())
    assert isinstance(error, HttpError) and error.status is None
    assert not receiver.requests


def test_unusable_material_is_a_config_error_naming_the_setting(ev, pki, tmp_path):
    from kete_http.settings import HttpSinkConfig
    from kete_http.sink import HttpSink

    settings = {"url": "https://x/", "tls": {"ca-file": str(tmp_path / "none.pem")}}
    with pytest.raises(ConfigError) as caught:
        HttpSink(HttpSinkConfig.model_validate(settings), ev.context())
    assert [error.path for error in caught.value.errors] == ["routes.r.destination.tls.ca-file"]
    assert "No such file" in str(caught.value)


def test_kete_check_reports_tls_errors(pki, tmp_path):
    config = _config(
        tmp_path,
        "https://127.0.0.1:1",
        {
            "trust-store": {"loader": {"kind": "pem-file-base64", "base64": "not base64!"}},
            "key-store": pki.store("pkcs12-file-path", key=True, password="p12-pass") | {"password": "wrong"},
        },
    )
    result = run_kete("check", config)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "routes.siem.destination.tls.trust-store.loader.base64: not valid base64" in result.stderr
    assert "routes.siem.destination.tls.key-store.password: wrong password" in result.stderr
    assert "p12-pass" not in result.stderr and "wrong" not in result.stderr.replace("wrong password", "")


async def test_source_over_https_requires_a_client_certificate(pki, webhook):
    settings = {"cert-file": str(pki.server_file), "client-ca-file": str(pki.ca_file)}
    hook = await webhook(client_ssl=pki.client_context(with_cert=True), tls=settings)
    assert hook.url.startswith("https://")
    assert (await hook.post({"type": "LOGIN"}))[:2] == (202, {"accepted": 1})
    anonymous = await webhook(client_ssl=pki.client_context(with_cert=False), tls=settings)
    with pytest.raises(aiohttp.ClientError):
        await anonymous.post({"type": "LOGIN"})
    assert len(anonymous.intake.batches) == 0


@pytest.mark.parametrize("kind", ["pkcs12-file-path", "pem-file-base64"])
async def test_source_serves_https_from_a_key_store(kind, pki, webhook):
    settings = {
        "key-store": pki.store(kind, key=True, party=pki.server),
        "trust-store": pki.store("der-file-base64", key=False),
    }
    hook = await webhook(client_ssl=pki.client_context(with_cert=True), tls=settings)
    assert (await hook.post([{"type": "LOGIN"}, {"type": "LOGOUT"}]))[0] == 202
    anonymous = await webhook(client_ssl=pki.client_context(with_cert=False), tls=settings)
    with pytest.raises(aiohttp.ClientError):
        await anonymous.post({"type": "LOGIN"})


async def test_source_over_https_without_client_certificates(pki, webhook):
    hook = await webhook(
        client_ssl=pki.client_context(with_cert=False),
        tls={"cert-file": str(pki.server_file), "version": "TLSv1.2"},
    )
    assert (await hook.post([{"type": "LOGIN"}, {"type": "LOGOUT"}]))[0] == 202


def test_source_needs_a_certificate_to_require_client_ones(pki):
    from kete_http.settings import HttpSourceConfig
    from kete_http.source import HttpSource

    with pytest.raises(ConfigError) as caught:
        HttpSource("hook", HttpSourceConfig.model_validate({"tls": {"client-ca-file": str(pki.ca_file)}}))
    assert [error.path for error in caught.value.errors] == ["sources.hook.tls.cert-file"]


async def test_the_sink_feeds_the_source_over_mutual_tls(ev, pki, webhook, make_sink):
    settings = {"key-store": pki.store("pkcs12-file-path", key=True, party=pki.server),
                "client-ca-file": str(pki.ca_file)}  # fmt: skip
    hook = await webhook(client_ssl=pki.client_context(), tls=settings, signing={"secret": "k"})
    sink = make_sink(
        url=hook.url,
        signing={"secret": "k"},
        **{"content-encoding": "deflate"},
        tls={"ca-file": str(pki.ca_file), "cert-file": str(pki.client_file)},
    )
    assert await sink.send([ev.user(id="a"), ev.admin(id="b")]) is None
    assert sorted(event.id for event in hook.intake.events) == ["a", "b"]
