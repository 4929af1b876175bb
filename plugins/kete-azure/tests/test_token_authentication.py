"""``authentication-type = managed-identity`` / ``default-azure-credential`` in the Event Grid, Web PubSub
and Storage Queue sinks: tokens from a managed identity endpoint on aiohttp (App Service style), checked
by the services (the test topic and service by signature, audience and lifetime; Azurite's ``--oauth
basic`` by audience, issuer and lifetime) over HTTPS."""

from __future__ import annotations

import pytest

from kete_core import ConfigErrors, ConnectionLost, PermanentError, Unavailable

pytestmark = pytest.mark.azure

EVENT_GRID = "azure-eventgrid"
WEB_PUBSUB = "azure-webpubsub"
STORAGE_QUEUE = "azure-storage-queue"


@pytest.fixture
async def topic(start_topic, identity, pki):
    return await start_topic(identity=identity, tls=pki.server_context())


@pytest.fixture
async def pubsub(start_service, identity, pki):
    return await start_service(identity=identity, tls=pki.server_context())


def _errors(make_sink, kind: str, **settings) -> str:
    with pytest.raises(ConfigErrors) as caught:
        make_sink(kind, **settings)
    return str(caught.value)


async def test_event_grid_publishes_with_the_user_assigned_identitys_token_fetched_once(
    topic, identity, make_sink, ev, trust
):
    settings = {
        "authentication-type": "managed-identity",
        "managed-identity-client-id": "kete-user-assigned",
        "tls": trust,
    }
    sink = make_sink(EVENT_GRID, endpoint=topic.url, **settings)
    await sink.start()
    for number in range(1, 4):
        assert await sink.send([ev(number)]) is None
    assert topic.ids() == ["e1", "e2", "e3"]
    assert [(r.resource, r.client_id) for r in identity.requests] == [
        ("https://eventgrid.azure.net", "kete-user-assigned")
    ]


async def test_event_grid_with_default_azure_credential(topic, identity, make_sink, ev, trust):
    sink = make_sink(
        EVENT_GRID, endpoint=topic.url, **{"authentication-type": "default-azure-credential", "tls": trust}
    )
    assert await sink.send([ev(1), ev(2)]) is None
    assert topic.ids() == ["e1", "e2"] and len(identity.requests) == 1


async def test_event_grid_refusing_the_tokens_audience_makes_the_route_wait(topic, identity, make_sink, ev, trust):
    identity.audience = "https://management.azure.com"
    sink = make_sink(EVENT_GRID, endpoint=topic.url, **{"authentication-type": "managed-identity", "tls": trust})
    await sink.start()  # a token was had; the topic refuses it
    with pytest.raises(Unavailable, match=r"answered 401.*check the managed-identity identity's role assignments"):
        await sink.send([ev(1)])
    assert topic.events == []


async def test_event_grid_without_a_token_fails_at_start_and_waits(topic, identity, make_sink, ev, trust):
    await identity.stop()
    sink = make_sink(EVENT_GRID, endpoint=topic.url, **{"authentication-type": "managed-identity", "tls": trust})
    with pytest.raises(ConnectionLost, match=rf"no token from managed-identity: .*127\.0\.0\.1:{identity.port}"):
        await sink.start()
    with pytest.raises(Unavailable, match="no token from managed-identity"):
        await sink.send([ev(1)])
    await identity.start()  # on the same port
    assert await sink.send([ev(1)]) is None
    assert topic.ids() == ["e1"]


def test_event_grid_checks_of_token_authentication(make_sink):
    text = _errors(
        make_sink,
        EVENT_GRID,
        endpoint="https://t.example/api/events",
        **{
            "authentication-type": "managed-identity",
            "access-key": "k",
        },
    )
    assert "'access-key' cannot be set when 'authentication-type' is 'managed-identity'" in text
    text = _errors(
        make_sink,
        EVENT_GRID,
        endpoint="http://t.example/api/events",
        **{"authentication-type": "default-azure-credential"},
    )
    assert "endpoint must be an https URL when authentication-type is 'default-azure-credential'" in text
    text = _errors(make_sink, EVENT_GRID, endpoint="https://t.example/api/events", **{"authentication-type": "sas"})
    assert "unsupported authentication-type: 'sas' — valid options: access-key, managed-identity" in text
    text = _errors(
        make_sink, EVENT_GRID, endpoint="https://t.example/api/events", **{"authentication-type": "access-key"}
    )
    assert "access-key is required when authentication-type is 'access-key'" in text


async def test_web_pubsub_sends_with_the_system_assigned_identitys_token_fetched_once(
    pubsub, identity, make_sink, ev, trust
):
    settings = {"authentication-type": "managed-identity", "endpoint": pubsub.endpoint, "tls": trust}
    sink = make_sink(WEB_PUBSUB, hub="keycloak", group="${realmLowerCase}", **settings)
    await sink.start()
    assert await sink.send([ev(1), ev(2)]) is None
    assert await sink.send([ev(3)]) is None
    assert pubsub.ids() == ["e1", "e2", "e3"] and {m.group for m in pubsub.messages} == {"acme"}
    assert [(r.resource, r.client_id) for r in identity.requests] == [
        ("https://webpubsub.azure.com", "system-assigned")
    ]


async def test_web_pubsub_with_default_azure_credential(pubsub, identity, make_sink, ev, trust):
    settings = {"authentication-type": "default-azure-credential", "endpoint": pubsub.endpoint, "tls": trust}
    sink = make_sink(WEB_PUBSUB, hub="keycloak", **settings)
    assert await sink.send([ev(1)]) is None
    assert pubsub.ids() == ["e1"] and len(identity.requests) == 1


async def test_web_pubsub_refusing_the_tokens_audience_makes_the_route_wait(pubsub, identity, make_sink, ev, trust):
    identity.audience = "https://eventgrid.azure.net"
    settings = {"authentication-type": "managed-identity", "endpoint": pubsub.endpoint, "tls": trust}
    sink = make_sink(WEB_PUBSUB, hub="keycloak", **settings)
    with pytest.raises(Unavailable, match=r"answered 401.*check the managed-identity identity's role assignments"):
        await sink.send([ev(1), ev(2)])
    assert pubsub.messages == []


async def test_web_pubsub_without_a_token_fails_at_start_and_waits(pubsub, identity, make_sink, ev, trust):
    settings = {
        "authentication-type": "managed-identity",
        "managed-identity-client-id": "unknown-identity",
        "endpoint": pubsub.endpoint,
        "tls": trust,
    }
    sink = make_sink(WEB_PUBSUB, hub="keycloak", **settings)
    with pytest.raises(ConnectionLost, match=r"no token from managed-identity: .*No User Assigned"):
        await sink.start()
    with pytest.raises(Unavailable, match="no token from managed-identity"):
        await sink.send([ev(1)])
    assert pubsub.messages == []


def test_web_pubsub_checks_of_token_authentication(make_sink, pubsub):
    text = _errors(make_sink, WEB_PUBSUB, hub="h", **{"authentication-type": "managed-identity"})
    assert "endpoint is required when authentication-type is 'managed-identity'" in text
    text = _errors(
        make_sink,
        WEB_PUBSUB,
        hub="h",
        **{
            "authentication-type": "default-azure-credential",
            "connection-string": pubsub.connection_string,
            "endpoint": "https://x.webpubsub.azure.com",
        },
    )
    assert "'connection-string' cannot be set when 'authentication-type' is 'default-azure-credential'" in text
    text = _errors(make_sink, WEB_PUBSUB, hub="h", **{"authentication-type": "managed-identity", "endpoint": "x"})
    assert "endpoint must be a valid absolute URL" in text
    text = _errors(
        make_sink,
        WEB_PUBSUB,
        hub="h",
        **{
            "authentication-type": "managed-identity",
            "endpoint": "http://x.webpubsub.azure.com",
        },
    )
    assert "endpoint must be an https URL when authentication-type is 'managed-identity'" in text


async def test_storage_queue_puts_with_the_identitys_token_fetched_once(
    azurite_oauth, oauth_queues, identity, make_sink, ev, trust
):
    queue = oauth_queues.make()
    settings = {"authentication-type": "managed-identity", "url": azurite_oauth.url, "queue": queue, "tls": trust}
    sink = make_sink(STORAGE_QUEUE, **settings)
    await sink.start()  # the account's properties, with the token
    assert await sink.send([ev(1), ev(2)]) is None
    assert await sink.send([ev(3)]) is None
    assert oauth_queues.payloads(queue) == [ev(n).payload for n in (1, 2, 3)]
    assert [(r.resource, r.client_id) for r in identity.requests] == [("https://storage.azure.com", "system-assigned")]


async def test_storage_queue_with_default_azure_credential(azurite_oauth, oauth_queues, identity, make_sink, ev, trust):
    queue = oauth_queues.make()
    settings = {"authentication-type": "default-azure-credential", "url": azurite_oauth.url, "queue": queue}
    sink = make_sink(STORAGE_QUEUE, **settings, tls=trust)
    assert await sink.send([ev(1)]) is None
    assert oauth_queues.payloads(queue) == [ev(1).payload]


async def test_storage_queue_refusing_the_tokens_audience_is_a_clear_error_and_waits(
    azurite_oauth, oauth_queues, identity, make_sink, ev, trust
):
    identity.audience = "https://eventgrid.azure.net"
    queue = oauth_queues.make()
    settings = {"authentication-type": "managed-identity", "url": azurite_oauth.url, "queue": queue, "tls": trust}
    sink = make_sink(STORAGE_QUEUE, **settings)
    with pytest.raises(
        PermanentError, match=r"refused the credentials \(403 AuthenticationFailed; check the managed-identity"
    ):
        await sink.start()
    with pytest.raises(Unavailable, match="the credentials were refused"):
        await sink.send([ev(1)])
    assert oauth_queues.texts(queue) == []


async def test_storage_queue_without_a_token_fails_at_start_and_waits(
    azurite_oauth, oauth_queues, identity, make_sink, ev, trust
):
    await identity.stop()
    queue = oauth_queues.make()
    settings = {"authentication-type": "managed-identity", "url": azurite_oauth.url, "queue": queue, "tls": trust}
    sink = make_sink(STORAGE_QUEUE, **settings)
    with pytest.raises(ConnectionLost, match="no token from managed-identity"):
        await sink.start()
    with pytest.raises(Unavailable, match=r"/kete-\w+: no token from managed-identity"):
        await sink.send([ev(1)])
    assert oauth_queues.texts(queue) == []


def test_storage_queue_checks_of_token_authentication(make_sink):
    base = {"queue": "q", "authentication-type": "managed-identity"}
    text = _errors(make_sink, STORAGE_QUEUE, **base, **{"account-name": "acct", "account-key": "a2V5"})
    assert "'account-key' cannot be set when 'authentication-type' is 'managed-identity'" in text
    text = _errors(make_sink, STORAGE_QUEUE, **base, **{"connection-string": "UseDevelopmentStorage=true"})
    assert "'connection-string' cannot be set when 'authentication-type' is 'managed-identity'" in text
    assert "url or account-name is required" in _errors(make_sink, STORAGE_QUEUE, **base)
    text = _errors(make_sink, STORAGE_QUEUE, **base, url="http://127.0.0.1:10001/devstoreaccount1")
    assert "url must be an https URL when authentication-type is 'managed-identity'" in text
    text = _errors(make_sink, STORAGE_QUEUE, queue="q", **{"authentication-type": "sas"})
    assert "unsupported authentication-type: 'sas' — valid options: connection-string, managed-identity" in text
    sink = make_sink(STORAGE_QUEUE, **base, **{"account-name": "acct"})
    assert sink.account.url == "https://acct.queue.core.windows.net"
    assert make_sink(
        STORAGE_QUEUE,
        queue="q",
        **{
            "authentication-type": "Connection-String",
            "connection-string": "UseDevelopmentStorage=true",
        },
    ).account.account_key
