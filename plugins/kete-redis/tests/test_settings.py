"""KETE's Redis settings: defaults, what kete cannot do, and errors that name the setting."""

from __future__ import annotations

import logging

import pytest

from kete_core import ConfigError
from kete_core.testing import build_sink, run_kete


def test_kete_defaults():
    sink = build_sink("redis-stream", {"host": "redis.internal", "stream": "keycloak"})
    config = sink.config
    assert (config.port, config.database, config.client_name, config.mode) == (None, 0, "kete", "standalone")
    assert (config.connection_timeout_seconds, config.command_timeout_seconds) == (10, 10)
    assert (config.max_len, config.approximate_trimming) == (0, True)
    assert sink.where == "redis.internal:6379"
    assert build_sink("redis-pubsub", {"host": "h", "channel": "c", "tls": {"enabled": True}}).where == "h:6380"


@pytest.mark.parametrize(
    ("settings", "path", "message"),
    [
        ({"channel": "c"}, "host", "required: the Redis server's host name"),
        ({"channel": "c", "mode": "Sentinel", "sentinel-nodes": "s1"}, "sentinel-master-id", "required for mode"),
        ({"channel": "c", "mode": "sentinel", "sentinel-master-id": "m"}, "sentinel-nodes", "required for mode"),
        (
            {
                "channel": "c",
                "mode": "sentinel",
                "sentinel-nodes": "s1",
                "sentinel-master-id": "m",
                "tls.enabled": True,
            },
            "tls.enabled",
            "kete-redis does not support TLS with mode 'sentinel' yet",
        ),
    ],
)
def test_settings_kete_cannot_use_name_the_setting(settings, path, message):
    with pytest.raises(ConfigError) as caught:
        build_sink("redis-pubsub", settings)
    assert caught.value.path == f"routes.contract.destination.{path}"
    assert message in caught.value.message


def test_sentinel_nodes_default_to_port_26379():
    sink = build_sink(
        "redis-stream",
        {"mode": "sentinel", "sentinel-nodes": "s1, s2:26380", "sentinel-master-id": "main", "stream": "s"},
    )
    assert sink.config.sentinels() == [("s1", 26379), ("s2", 26380)]
    assert sink.where == "master 'main' of sentinels s1, s2:26380"


def test_headers_are_stream_fields_and_ignored_by_pubsub(caplog):
    with caplog.at_level(logging.WARNING, logger="kete.redis"):
        build_sink("redis-pubsub", {"host": "h", "channel": "c", "headers": {"team": "iam"}})
        build_sink("redis-stream", {"host": "h", "stream": "s", "headers": {"eventtype": "x", "body": "y"}})
    assert "routes.contract.destination.headers: Redis pub/sub messages carry no headers" in caplog.text
    assert "headers.eventtype: kete sets this field itself" in caplog.text
    assert "headers.body: kete sets this field itself" in caplog.text


def test_kete_check_names_a_missing_stream(tmp_path):
    config = tmp_path / "kete.properties"
    config.write_text("kete.routes.r.destination.kind=redis-stream\nkete.routes.r.destination.host=h\n")
    result = run_kete("check", str(config))
    assert result.returncode == 2
    assert "routes.r.destination.stream" in result.stderr
