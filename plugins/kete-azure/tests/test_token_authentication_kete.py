"""``kete run`` with KETE ``.properties`` routes to Event Grid, Web PubSub and a Storage queue, each
authenticating with ``managed-identity`` or ``default-azure-credential``: the tokens come from the
managed identity endpoint named by the environment kete runs in (App Service style), one per service."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from kete_core.testing import run_kete, user_event

pytestmark = pytest.mark.azure


async def test_kete_properties_with_managed_identities_deliver(
    tmp_path, start_topic, start_service, identity, pki, azurite_oauth, oauth_queues
):
    topic = await start_topic(identity=identity, tls=pki.server_context())
    pubsub = await start_service(identity=identity, tls=pki.server_context())
    queue = oauth_queues.make("keycloak")
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(user_event(n)) + b"\n" for n in range(1, 11)))
    tls = f"tls.enabled=true\ntls.trust-store.loader.kind=pem-file-path\ntls.trust-store.loader.path={pki.ca_file}\n"
    routes = {
        "grid": (
            "kind=azure-eventgrid\n"
            f"endpoint={topic.url}\n"
            "authentication-type=managed-identity\n"
            "managed-identity-client-id=kete-user-assigned\n"
        ),
        "pubsub": (
            "kind=azure-webpubsub\n"
            f"endpoint={pubsub.endpoint}\n"
            "authentication-type=default-azure-credential\n"
            "hub=keycloak\n"
        ),
        "queue": (
            f"kind=azure-storage-queue\nurl={azurite_oauth.url}\nauthentication-type=managed-identity\nqueue={queue}\n"
        ),
    }
    lines = [
        f"kete.data-dir={tmp_path / 'state'}",
        "kete.sources.replay.kind=file",
        f"kete.sources.replay.path={events}",
    ]
    for name, settings in routes.items():
        for line in (settings + tls).splitlines():
            lines.append(f"kete.routes.{name}.destination.{line}")
    config = tmp_path / "kete.properties"
    config.write_text("\n".join(lines) + "\n")
    result = await asyncio.to_thread(run_kete, "run", str(config))
    assert result.returncode == 0, result.stderr
    expected = sorted(f"e{n}" for n in range(1, 11))
    assert sorted(topic.ids()) == expected
    assert sorted(pubsub.ids()) == expected
    assert sorted(orjson.loads(payload)["id"] for payload in oauth_queues.payloads(queue)) == expected
    assert sorted((r.resource, r.client_id) for r in identity.requests) == [
        ("https://eventgrid.azure.net", "kete-user-assigned"),
        ("https://storage.azure.com", "system-assigned"),
        ("https://webpubsub.azure.com", "system-assigned"),
    ]
