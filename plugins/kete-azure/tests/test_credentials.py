"""KETE's token authentication types for the Azure sinks: the settings' cross-checks in KETE's words, and
azure-identity's credentials getting tokens from a managed identity endpoint on aiohttp (App Service style)."""

from __future__ import annotations

import pytest
from kete_azure.credentials import AzureIdentitySettings, BearerToken, TokenUnavailable, token_credential
from kete_azure.testing.identity import EVENT_GRID, SYSTEM_ASSIGNED, WEB_PUBSUB

SCOPE = f"{EVENT_GRID}/.default"


class _Settings(AzureIdentitySettings):
    PRIMARY_AUTHENTICATION = "access-key"


def _problems(primary_given: bool = False, required: dict[str, str | None] | None = None, **settings) -> list:
    return _Settings.model_validate(settings).authentication_problems(primary_given, required)


def test_the_kinds_own_credential_or_authentication_type_must_be_set():
    assert _problems(primary_given=True) == []
    assert _problems() == [("access-key", "'access-key' or 'authentication-type' must be set")]
    assert _problems(**{"authentication-type": " Access-Key "}) == [
        ("access-key", "access-key is required when authentication-type is 'access-key'")
    ]
    assert _problems(**{"authentication-type": " "}) == _problems()  # blank is not set, as KETE reads it


def test_token_types_refuse_the_kinds_credential_and_need_their_settings():
    assert _problems(True, {"endpoint": "https://x"}, **{"authentication-type": "managed-identity"}) == [
        ("access-key", "'access-key' cannot be set when 'authentication-type' is 'managed-identity'")
    ]
    assert _problems(False, {"endpoint": " "}, **{"authentication-type": "DEFAULT-AZURE-CREDENTIAL"}) == [
        ("endpoint", "endpoint is required when authentication-type is 'default-azure-credential'")
    ]
    settings = _Settings.model_validate({"authentication-type": "managed-identity"})
    assert settings.token_authentication and settings.authentication_problems(False, {"endpoint": "https://x"}) == []
    assert not _Settings.model_validate({"authentication-type": "access-key"}).token_authentication


def test_an_unknown_authentication_type_names_the_valid_ones():
    assert _problems(**{"authentication-type": "sas"}) == [
        (
            "authentication-type",
            "unsupported authentication-type: 'sas' — valid options: access-key, managed-identity, "
            "default-azure-credential",
        )
    ]


@pytest.mark.azure
async def test_managed_identity_gets_the_user_assigned_identitys_token(identity):
    settings = _Settings.model_validate(
        {
            "authentication-type": "managed-identity",
            "managed-identity-client-id": " kete-user-assigned ",
        }
    )
    async with token_credential(settings, 5.0) as credential:
        token = await credential.get_token(SCOPE)
    claims = identity.verify(f"Bearer {token.token}", EVENT_GRID)
    assert claims is not None and claims["appid"] == "kete-user-assigned"
    assert [(r.resource, r.client_id, r.status) for r in identity.requests] == [(EVENT_GRID, "kete-user-assigned", 200)]
    assert identity.verify(f"Bearer {token.token}", WEB_PUBSUB) is None  # another service's audience


@pytest.mark.azure
async def test_default_azure_credential_reaches_the_endpoint_through_its_managed_identity_step(identity):
    settings = _Settings.model_validate({"authentication-type": "default-azure-credential"})
    async with token_credential(settings, 5.0) as credential:
        token = await credential.get_token(SCOPE)
    assert identity.verify(f"Bearer {token.token}", EVENT_GRID) is not None
    assert [(r.client_id, r.status) for r in identity.requests] == [(SYSTEM_ASSIGNED, 200)]


@pytest.mark.azure
async def test_a_token_is_kept_until_shortly_before_it_expires(identity):
    settings = _Settings.model_validate({"authentication-type": "managed-identity"})
    async with token_credential(settings, 5.0) as credential:
        tokens = BearerToken(credential, SCOPE)
        headers = {await tokens.header() for _ in range(3)}
    assert len(headers) == 1 and tokens.fetches == 1 and len(identity.requests) == 1
    identity.lifetime = 60  # below the refresh margin: each use fetches again
    async with token_credential(settings, 5.0) as credential:
        tokens = BearerToken(credential, SCOPE)
        await tokens.header()
        await tokens.header()
    assert tokens.fetches == 2  # asked again; azure-identity asks its endpoint at most every 30 s
    assert len(identity.requests) == 2


@pytest.mark.azure
async def test_a_refused_or_unreachable_identity_is_a_clear_failure(identity):
    unknown = _Settings.model_validate(
        {
            "authentication-type": "managed-identity",
            "managed-identity-client-id": "nobody",
        }
    )
    async with token_credential(unknown, 5.0) as credential:
        with pytest.raises(TokenUnavailable, match=r"^no token from managed-identity: .*No User Assigned or Delegated"):
            await credential.get_token(SCOPE)
    await identity.stop()
    for kind in ("managed-identity", "default-azure-credential"):
        settings = _Settings.model_validate({"authentication-type": kind})
        async with token_credential(settings, 5.0) as credential:
            with pytest.raises(
                TokenUnavailable, match=rf"^no token from {kind}: .*127\.0\.0\.1:{identity.port}"
            ) as down:
                await credential.get_token_info(SCOPE)
        assert "\n" not in str(down.value)
