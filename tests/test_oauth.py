"""kete_core's OAuth client credentials (KETE's ``oauth.*``), against a real token endpoint on 127.0.0.1."""

from __future__ import annotations

import aiohttp
import pytest

from kete_core import OAuthSettings, PermanentError, TokenError, TokenProvider, basic_authorization
from kete_core.testing.oauth import TokenEndpoint
from kete_core.testing.services import free_ports


@pytest.fixture
async def endpoint():
    server = await TokenEndpoint().start()
    yield server
    await server.stop()


def settings(**values) -> OAuthSettings:
    return OAuthSettings.model_validate({"client-id": "kete", "client-secret": "s3cret", **values})


async def test_a_token_is_fetched_once_cached_and_fetched_again_when_refused(endpoint):
    provider = TokenProvider(settings(**{"token-url": endpoint.url, "scope": "events:write"}))
    async with aiohttp.ClientSession() as session:
        assert await provider.token(session) == "token-1"
        assert await provider.token(session) == "token-1"
        provider.invalidate("token-1")
        assert await provider.token(session) == "token-2"
    assert [form["grant_type"] for form in endpoint.forms] == ["client_credentials"] * 2
    assert endpoint.forms[0]["scope"] == "events:write"
    assert endpoint.forms[0]["authorization"] == basic_authorization("kete", "s3cret")


async def test_a_refused_client_is_permanent_and_a_missing_endpoint_is_worth_retrying(endpoint):
    async with aiohttp.ClientSession() as session:
        with pytest.raises(PermanentError, match="HTTP 401"):
            await TokenProvider(settings(**{"token-url": endpoint.url, "client-secret": "wrong"})).token(session)
        (port,) = free_ports(1)
        with pytest.raises(TokenError, match=f"127.0.0.1:{port}"):
            await TokenProvider(settings(**{"token-url": f"http://127.0.0.1:{port}/token"})).token(session)


def test_oauth_is_active_as_kete_decides():
    assert settings().active("oauth") and not settings(enabled=False).active("oauth")
    assert settings(enabled=True).active(None) and not settings().active(None)
    assert not settings(enabled=True).active("basic")
    internal = settings(mode="internal", realm="acme", **{"keycloak-url": "http://kc:8080/"})
    assert internal.resolved_token_url == "http://kc:8080/realms/acme/protocol/openid-connect/token"
    assert [setting for setting, _ in OAuthSettings().problems()] == [
        "oauth.token-url", "oauth.client-id", "oauth.client-secret",
    ]  # fmt: skip
