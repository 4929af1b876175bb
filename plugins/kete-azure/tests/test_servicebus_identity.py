"""The azure-servicebus sink with KETE's token authentication (``managed-identity``) over AMQPS: tokens from
a managed identity endpoint (kete_azure.testing.identity) put on the AMQP peer's ``$cbs``, which checks them
with the endpoint's key, and kete's ``tls.*`` trust store for the peer's certificate (kete's test CA)."""

from __future__ import annotations

import pytest
from kete_azure.testing.amqp import JWT_TOKEN, AzureMessagingPeer
from kete_azure.testing.identity import SERVICE_BUS

from kete_core import ConnectionLost, PermanentError, Unavailable

pytestmark = pytest.mark.azure

KIND = "azure-servicebus"


@pytest.fixture
def secure_bus(pki, identity):
    peer = AzureMessagingPeer(event_hubs={}, queues={"secure"}, tls=pki.server_context())

    def check(token: str, audience: str) -> str | None:
        if identity.verify(f"Bearer {token}", SERVICE_BUS) is None:
            return "InvalidToken: not a token of this namespace's identity provider"
        return None

    peer.token_checks[JWT_TOKEN] = check
    peer.start()
    yield peer
    peer.close()


def _settings(peer: AzureMessagingPeer, pki, **more) -> dict:
    return {
        "authentication-type": "managed-identity",
        "managed-identity-client-id": "kete-user-assigned",
        "fully-qualified-namespace": peer.namespace,
        "queue": "secure",
        "custom-endpoint-address": peer.custom_endpoint_address,
        "tls": {"trust-store": pki.store("pem-file-path", key=False, password=None)},
        "timeout-seconds": 5,
        **more,
    }


async def test_a_managed_identitys_token_over_amqps(secure_bus, identity, pki, make_sink, ev):
    sink = make_sink(KIND, **_settings(secure_bus, pki))
    await sink.start()
    assert await sink.send([ev(1), ev(2)]) is None
    assert [message.body for message in secure_bus.messages("secure")] == [ev(1).payload, ev(2).payload]
    assert {request.client_id for request in identity.requests} == {"kete-user-assigned"}


async def test_a_token_the_namespace_refuses_is_a_clear_error_at_start(secure_bus, identity, pki, make_sink):
    identity.audience = "https://storage.azure.com"  # a token for another service
    with pytest.raises(PermanentError, match="the namespace refused the credentials"):
        await make_sink(KIND, **_settings(secure_bus, pki)).start()
    assert "not a token of this namespace's identity provider" in secure_bus.refused_tokens[-1]


async def test_an_identity_endpoint_out_of_reach_makes_the_route_wait(secure_bus, identity, pki, make_sink, ev):
    await identity.stop()
    sink = make_sink(KIND, **_settings(secure_bus, pki))
    with pytest.raises((ConnectionLost, PermanentError), match="no token from managed-identity"):
        await sink.start()
    with pytest.raises(Unavailable, match="no token from managed-identity"):
        await sink.send([ev(1)])
    assert secure_bus.messages() == []
