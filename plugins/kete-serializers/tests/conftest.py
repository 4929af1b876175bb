"""The corpus of real-shaped events the serializers are checked on (every Keycloak event type)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kete_core import Event, parse_event
from kete_core.testing import admin_event, user_event

TYPES = json.loads((Path(__file__).resolve().parents[3] / "tests" / "keycloak_types.json").read_text())
ODD = 'zoë 日本 \u2028 😀 a"b\\c\td\r\n é ~ #!=: & + % ?=/ <x> ]]> ÿĀ \x7f\x85\xa0\ufeff'
LONG = json.dumps({"username": "new", "enabled": True, "attributes": {"a": ["1", "2"]}, "note": "x " * 90})


def corpus() -> list[Event]:
    """User events of every type (errors for ``*_ERROR``, details with odd characters), admin events of
    every resource and operation type (long representations, no details, details), and edge shapes."""
    events = []
    for number, event_type in enumerate(TYPES["user-event-types"], 1):
        error = {"error": "invalid_user_credentials"} if event_type.endswith("_ERROR") else {}
        details = {
            "username": f"user {number} {ODD}",
            "auth_method": "openid-connect",
            "redirect_uri": "https://x/y?a=b&c=d",
        }
        events.append(
            parse_event(user_event(number, event_type=event_type, sessionId=f"s{number}", details=details, **error))
        )
    number = 1000
    for resource in TYPES["admin-resource-types"]:
        for operation in TYPES["admin-operation-types"]:
            number += 1
            extra = {"details": {"note": ODD}} if number % 2 else {}
            events.append(
                parse_event(
                    admin_event(number, resourceType=resource, operationType=operation, representation=LONG, **extra)
                )
            )
    events += [
        parse_event(user_event(2001, details={}, error="", ipAddress=None)),
        parse_event({"id": "e2002", "time": 1, "type": "LOGIN", "realmId": "r"}),
        parse_event(
            user_event(2003, realm="Ünïcødé realm", details={"weird key": "v", "k:v": "x", "true": "t", "y": "n"})
        ),
        parse_event(user_event(2004, details={"long": "word " * 40 + "x" * 100 + " \\" * 50})),
        parse_event(user_event(2006, details={"control": "a\x01b\x00c\x1b", "bom": "\ufffe"})),
        parse_event(
            admin_event(2005, authDetails={"realmId": "m", "ipAddress": "::1"}, representation=None, error="e")
        ),
    ]
    return events


@pytest.fixture(scope="session")
def events() -> list[Event]:
    return corpus()
