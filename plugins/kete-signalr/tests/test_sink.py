"""The signalr sink's KETE settings and behaviour, against a SignalR hub on aiohttp."""

from __future__ import annotations

import asyncio

import pytest
from kete_signalr.protocol import HubError

from kete_core import ConfigErrors, PermanentError, Unavailable

pytestmark = pytest.mark.websocket


async def test_invocations_are_pipelined_on_one_connection_and_completed(hub, make_sink, ev):
    sink = make_sink(url=hub.url, headers={"X-Team": "identity"})
    assert await sink.send([ev(number) for number in range(1, 51)]) is None
    assert await sink.send([ev(51)]) is None
    assert hub.ids() == [f"e{number}" for number in range(1, 52)]
    assert {call.target for call in hub.invocations} == {"SendEvent"}  # KETE's default hub method
    assert isinstance(hub.invocations[0].arguments[0], str)  # the payload as one string argument
    assert hub.invocations[0].headers["X-Team"] == "identity" and hub.negotiations[0]["X-Team"] == "identity"
    assert len(hub.negotiations) == 1


async def test_the_hub_method_is_a_template(hub, make_sink, ev):
    sink = make_sink(url=hub.url, **{"hub-method": "On${eventTypePascalCase}"})
    await sink.send([ev(1), ev(2, event_type="LOGIN_ERROR")])
    assert [call.target for call in hub.invocations] == ["OnLogin", "OnLoginError"]


async def test_a_failed_hub_method_fails_that_event_alone(start_hub, make_sink, ev):
    hub = await start_hub(methods=("SendEvent",))
    sink = make_sink(url=hub.url, **{"hub-method": "Send${eventTypePascalCase}"})
    results = await sink.send([ev(1, event_type="EVENT"), ev(2, event_type="LOGIN"), ev(3, event_type="EVENT")])
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], HubError) and "Method does not exist" in str(results[1])
    assert hub.ids() == ["e1", "e3"]


async def test_access_token_and_a_refused_connection(start_hub, make_sink, ev):
    hub = await start_hub(require={"Authorization": "Bearer right"})
    assert await make_sink(url=hub.url, **{"access-token": "right"}).send([ev(1)]) is None
    results = await make_sink(url=hub.url, **{"access-token": "wrong"}).send([ev(2)])
    assert isinstance(results[0], PermanentError)
    assert "refused the connection: HTTP 401" in str(results[0]) and "access-token" in str(results[0])
    assert hub.ids() == ["e1"]


async def test_oauth_token_is_the_bearer(start_hub, make_sink, token_endpoint, ev):
    hub = await start_hub(require={"Authorization": "Bearer token-1"})
    sink = make_sink(url=hub.url, **{"authentication-type": "oauth", "oauth": token_endpoint.settings})
    assert await sink.send([ev(1)]) is None
    assert hub.invocations[0].headers["Authorization"] == "Bearer token-1"


async def test_negotiate_follows_an_azure_signalr_redirect_with_its_token(start_hub, make_sink, ev):
    service = await start_hub(require={"Authorization": "Bearer from-azure"})
    front = await start_hub(redirect=(service.url, "from-azure"))
    sink = make_sink(url=front.url, **{"access-token": "mine"})
    assert await sink.send([ev(1)]) is None
    assert front.negotiations[0]["Authorization"] == "Bearer mine"
    assert service.ids() == ["e1"] and service.invocations[0].headers["Authorization"] == "Bearer from-azure"


async def test_a_hub_down_is_unavailable_and_the_connection_comes_back(hub, make_sink, ev):
    sink = make_sink(url=hub.url, **{"timeout-seconds": 2})
    assert await sink.send([ev(1)]) is None
    await hub.stop()
    with pytest.raises(Unavailable, match=r"127\.0\.0\.1"):
        await sink.send([ev(2)])
    await hub.start()
    assert await sink.send([ev(2), ev(3)]) is None
    assert hub.ids() == ["e1", "e2", "e3"]
    assert len(hub.negotiations) == 2


async def test_withheld_completions_are_not_deliveries(start_hub, make_sink, ev):
    hub = await start_hub(complete=False)
    sink = make_sink(url=hub.url, **{"timeout-seconds": 0.5})
    with pytest.raises(Unavailable, match=r"no completion within 0\.5s"):
        await sink.send([ev(1)])


async def test_an_idle_connection_pings_the_hub(hub, make_sink, ev):
    sink = make_sink(url=hub.url, **{"keep-alive-seconds": 0.1})
    await sink.send([ev(1)])
    await asyncio.sleep(0.5)
    assert hub.pings >= 2


async def test_https_with_the_tests_certificates(start_hub, make_sink, pki, ev):
    hub = await start_hub(ssl_context=pki.server_context())
    sink = make_sink(url=hub.url, tls={"ca-file": str(pki.ca_file)})
    assert await sink.send([ev(1)]) is None
    with pytest.raises(Unavailable):
        await make_sink(url=hub.url, **{"timeout-seconds": 2}).send([ev(2)])
    assert hub.ids() == ["e1"]


def test_settings_errors_name_the_setting(make_sink):
    with pytest.raises(ConfigErrors) as caught:
        make_sink(url="ws://x/hub", headers={"bad name": "x"}, **{"hub-method": " "})
    assert [error.path for error in caught.value.errors] == [
        "routes.r.destination.url", "routes.r.destination.hub-method", "routes.r.destination.headers.bad name",
    ]  # fmt: skip
