"""The stomp sink against a real Apache ActiveMQ Artemis, whose ERROR frame for a SEND it refuses names that frame's
receipt (RabbitMQ's names none): the refused event fails alone, is retried as the route says and then dead-lettered
with the broker's message, and the rest of the batch, sent again on a new connection after the broker closed the
old one, is delivered once each (read back by an independent AMQP 1.0 client)."""

from __future__ import annotations

import pytest

from kete_core.testing import read_jsonl, replay_config, run_kete, user_event, write_jsonl
from tests.services import rabbitmq_client as at
from tests.services.artemis_fixtures import FULL, PASSWORD, USER

pytestmark = pytest.mark.artemis


def test_an_error_frame_for_a_refused_send_fails_only_that_event(artemis, artemis_tag, tmp_path):
    """Realm ``full`` goes to an address that takes one message: kete's first (e1) fills it, the broker answers
    the later ones (e4, e7) with an ERROR naming their receipt, then closes the connection."""
    full, open_ = f"{FULL}{artemis_tag}", f"kete.open.{artemis_tag}"
    events = [user_event(number, realm=("open", "full", "open")[number % 3]) for number in range(9)]
    write_jsonl(tmp_path / "events.jsonl", events)
    destination = {
        "kind": "stomp",
        "host": "127.0.0.1",
        "port": artemis.port("stomp"),
        "username": USER,
        "password": PASSWORD,
        "destination": f"kete.${{realmLowerCase}}.{artemis_tag}",
    }
    retry = {"max-attempts": 2, "wait-duration": "10ms", "max-wait-duration": "1s"}
    config = replay_config(tmp_path, destination, retry=retry)
    result = run_kete("run", str(config), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "route r: 9 matched, 7 delivered, 2 failed" in result.stderr, result.stderr
    got = artemis.receive(open_, count=6)
    assert at.ids(got) == [event["id"] for event in events if event["realmName"] == "open"]
    assert len(artemis.receive(full)) == 1
    letters = read_jsonl(tmp_path / "data" / "dead-letters" / "r.jsonl")
    assert [letter["event"]["id"] for letter in letters] == ["e4", "e7"]
    for letter in letters:
        assert letter["attempts"] == 2
        assert letter["error"].startswith("Refused: ") and "AMQ339011 Error sending message" in letter["error"]
        assert f"address={full}" in letter["error"], letter["error"]
