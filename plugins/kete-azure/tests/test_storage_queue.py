"""The azure-storage-queue sink's KETE settings and behaviour against Azurite, read back with the SDK."""

from __future__ import annotations

import base64
import gzip
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.queue import AccountSasPermissions, ResourceTypes, generate_account_sas

from kete_core import ConfigErrors, PermanentError, Unavailable
from tests.services.azurite_fixtures import ACCOUNT_KEY, ACCOUNT_NAME

KIND = "azure-storage-queue"


@pytest.mark.azure
async def test_messages_are_the_payload_in_base64_on_the_templated_queue(azurite, queues, make_sink, ev):
    suffix = uuid.uuid4().hex[:8]
    for realm in ("acme", "partner-portal"):
        queues.service.create_queue(f"{realm}-{suffix}")
        queues.made.append(f"{realm}-{suffix}")
    sink = make_sink(KIND, **{"connection-string": azurite.connection_string, "queue": f"${{realmKebabCase}}-{suffix}"})
    messages = [ev(1), ev(2, realm="Partner-Portal"), ev(3)]
    assert await sink.send(messages) is None
    assert queues.texts(f"acme-{suffix}") == [base64.b64encode(m.payload).decode() for m in (messages[0], messages[2])]
    assert queues.payloads(f"partner-portal-{suffix}") == [messages[1].payload]


@pytest.mark.azure
async def test_message_ttl_is_sent_and_minus_one_never_expires(azurite, queues, make_sink, ev):
    short, forever, default = queues.make(), queues.make(), queues.make()
    settings = {"connection-string": azurite.connection_string}
    await make_sink(KIND, **settings, queue=short, **{"message-ttl": 120}).send([ev(1)])
    await make_sink(KIND, **settings, queue=forever, **{"message-ttl": "-1"}).send([ev(2)])
    await make_sink(KIND, **settings, queue=default).send([ev(3)])
    [message] = queues.messages(short)
    assert message.expires_on - message.inserted_on == timedelta(seconds=120)
    [message] = queues.messages(forever)
    assert message.expires_on.year == 9999
    [message] = queues.messages(default)
    assert message.expires_on - message.inserted_on == timedelta(days=7)


@pytest.mark.azure
async def test_content_encodings_apply_before_the_base64_message_text(azurite, queue, queues, make_sink, ev):
    sink = make_sink(
        KIND,
        **{
            "connection-string": azurite.connection_string,
            "queue": queue,
            "content-encoding": "gzip",
            "content-transfer-encoding": "base64",
        },
    )
    assert await sink.send([ev(1)]) is None
    [text] = queues.texts(queue)
    assert gzip.decompress(base64.b64decode(base64.b64decode(text))) == ev(1).payload


@pytest.mark.azure
async def test_a_missing_queue_fails_its_events_alone(azurite, queues, make_sink, ev):
    sink = make_sink(KIND, **{"connection-string": azurite.connection_string, "queue": "${realmLowerCase}"})
    queues.service.create_queue("acme")
    queues.made.append("acme")
    results = await sink.send([ev(1), ev(2, realm="nowhere-to-go"), ev(3)])
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], PermanentError) and "the queue must exist" in str(results[1])
    assert "/nowhere-to-go" in str(results[1])
    assert queues.payloads("acme") == [ev(1).payload, ev(3).payload]


@pytest.mark.azure
async def test_a_sas_token_connection_string_puts_messages(azurite, queue, queues, make_sink, ev):
    sas = generate_account_sas(
        ACCOUNT_NAME,
        ACCOUNT_KEY,
        ResourceTypes(object=True),
        AccountSasPermissions(add=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    connection = f"QueueEndpoint={azurite.url};SharedAccessSignature=?{sas}"
    sink = make_sink(KIND, **{"connection-string": connection, "queue": queue})
    await sink.start()  # the token may not read the account's properties: still a good token
    assert await sink.send([ev(1)]) is None
    assert queues.payloads(queue) == [ev(1).payload]
    by_keys = make_sink(KIND, **{"url": azurite.url, "sas-token": sas, "queue": queue})
    assert await by_keys.send([ev(2)]) is None
    assert queues.payloads(queue) == [ev(1).payload, ev(2).payload]


@pytest.mark.azure
async def test_wrong_credentials_are_a_clear_error_and_lose_nothing(azurite, queue, queues, make_sink, ev):
    wrong = base64.b64encode(b"not the key").decode()
    sink = make_sink(KIND, **{"url": azurite.url, "account-name": ACCOUNT_NAME, "account-key": wrong, "queue": queue})
    with pytest.raises(PermanentError, match=r"refused the credentials .*check connection-string, account-key"):
        await sink.start()
    with pytest.raises(Unavailable, match="the credentials were refused"):
        await sink.send([ev(1), ev(2)])
    assert queues.texts(queue) == []


def _errors(make_sink, **settings) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        make_sink(KIND, **settings)
    return [str(error) for error in caught.value.errors]


def test_kete_cross_checks_of_the_credentials(make_sink):
    [text] = _errors(make_sink, queue="q", **{"connection-string": "UseDevelopmentStorage=true", "account-name": "a"})
    assert (
        "routes.r.destination.account-name" in text
        and "connection-string and account-name are mutually exclusive" in text
    )
    [text] = _errors(make_sink, queue="q")
    assert "either account-key, sas-token, or connection-string is required" in text
    [text] = _errors(make_sink, queue="q", **{"account-key": "a2V5", "sas-token": "sv=1"})
    assert "account-key and sas-token are mutually exclusive" in text
    [text] = _errors(make_sink, queue="q", **{"account-key": "a2V5"})
    assert "account-name is required" in text
    [text] = _errors(
        make_sink, queue="q", **{"account-name": "acct", "account-key": "a2V5", "url": "https://other.example"}
    )
    assert "url must contain the account-name" in text
    [text] = _errors(
        make_sink, queue="q", **{"connection-string": "AccountName=a;AccountKey=k;SharedAccessSignature=s"}
    )
    assert "must not contain both AccountKey and SharedAccessSignature" in text
    [text] = _errors(make_sink, queue="q", **{"connection-string": "SharedAccessSignature=s"})
    assert "must contain AccountName or QueueEndpoint" in text
    assert "message-ttl" in "".join(
        _errors(make_sink, queue="q", **{"connection-string": "UseDevelopmentStorage=true", "message-ttl": -2})
    )


def test_the_endpoint_as_kete_derives_it(make_sink):
    def url(**settings) -> str:
        return make_sink(KIND, queue="q", **settings).account.url

    assert url(**{"connection-string": "UseDevelopmentStorage=true"}) == "http://127.0.0.1:10001/devstoreaccount1"
    assert (
        url(**{"connection-string": "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://10.0.0.5/"})
        == "http://10.0.0.5:10001/devstoreaccount1"
    )
    assert url(**{"account-name": "acct", "account-key": "a2V5"}) == "https://acct.queue.core.windows.net"
    assert (
        url(
            **{
                "connection-string": "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn"
            }
        )
        == "http://acct.queue.core.chinacloudapi.cn"
    )
    assert (
        url(**{"url": "https://acct.queue.core.windows.net/", "sas-token": "?sv=1"})
        == "https://acct.queue.core.windows.net"
    )
    assert make_sink(KIND, queue="q", **{"account-name": "a", "sas-token": "?sv=1"}).account.sas_token == "sv=1"
