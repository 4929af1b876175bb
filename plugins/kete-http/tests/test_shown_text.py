"""What kete shows people (log lines, dead letters, ``kete dlq list``, ``kete rejected``, ``/ready``)
holds no credentials of a destination address, no request header, no more than the start of a
receiver's error answer, and no control character from event data: checked on the bytes a real
``kete run`` writes, with real receivers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

PASSWORD = "pa55-w0rd"
TOKEN = "header-t0ken"
# A log line forged with a newline, a terminal title set with OSC ... BEL, a C1 CSI, and a bare ESC.
FORGED = "\n2026-01-01 00:00:00,000 ERROR kete: forged line"
HOSTILE = FORGED + "\x1b]0;owned\x07\u009b2J\x1b[31m\r"
CONTROL_BYTES = (b"\x1b", b"\x07", b"\xc2\x9b", b"\r", b"\nforged", b"\n2026-01-01")


class Refusing:
    """A receiver that answers every request 400 with a long body that echoes the realm."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> Refusing:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def _handle(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization"))
        event = await request.json()
        return web.Response(status=400, text=f"bad event from {event['realmName']}: " + "x" * 5000 + "END")


async def _kete(*args: str, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kete_core.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **env},
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out, err


def _config(tmp_path: Path, port: int, log_format: str = "text") -> Path:
    events = tmp_path / "events.jsonl"
    records = [
        orjson.dumps({"id": "ev-1" + HOSTILE, "type": "LOGIN", "realmName": "acme" + HOSTILE, "time": 1}),
        ("not json" + HOSTILE.replace("\n", " ")).encode(),
        orjson.dumps({"id": "ev-2", "realmName": "acme" + HOSTILE}),  # no type: not an event
    ]
    events.write_bytes(b"\n".join(records) + b"\n")
    config = tmp_path / "kete.toml"
    config.write_text(
        f"""
[kete]
data-dir = "{tmp_path / "data"}"
log-format = "{log_format}"

[sources.replay]
kind = "file"
path = "{events}"

[routes.siem]
destination.kind = "http"
destination.url = "http://siem:{PASSWORD}@127.0.0.1:{port}/events"
destination.headers.x-token = "{TOKEN}"
destination.retry-initial-backoff = "10ms"
"""
    )
    return config


async def test_credentials_headers_and_long_answers_never_shown(tmp_path):
    receiver = await Refusing().start()
    try:
        config = _config(tmp_path, receiver.port)
        status, _, err = await _kete("run", str(config), env={})
        assert status == 1, err.decode()
        _, listed, listed_err = await _kete("dlq", "list", str(config), env={})
    finally:
        assert receiver.runner is not None
        await receiver.runner.cleanup()
    assert receiver.authorizations == ["Basic c2llbTpwYTU1LXcwcmQ="]  # the URL's credentials are used
    letters = (tmp_path / "data" / "dead-letters" / "siem.jsonl").read_bytes()
    shown = {"log": err, "dead letters": letters, "dlq list": listed + listed_err}
    for where, text in shown.items():
        assert PASSWORD.encode() not in text and TOKEN.encode() not in text, where
        assert b"http://***@127.0.0.1" in text, where
        assert b"[... cut at 512 bytes]" in text and b"xEND" not in text, where
    (letter,) = [orjson.loads(line) for line in letters.splitlines()]
    detail = letter["error"].partition("bad event from ")[2]
    assert len(detail.partition(" [... cut")[0].encode()) <= 512


async def test_event_data_cannot_forge_log_lines_or_drive_the_terminal(tmp_path):
    receiver = await Refusing().start()
    try:
        config = _config(tmp_path, receiver.port)
        _, _, log = await _kete("run", str(config), env={})
        _, listed, _ = await _kete("dlq", "list", str(config), env={})
        _, rejected, _ = await _kete("rejected", str(config), env={})
        (tmp_path / "json").mkdir()
        json_config = _config(tmp_path / "json", receiver.port, log_format="json")
        _, _, json_log = await _kete("run", str(json_config), env={})
    finally:
        assert receiver.runner is not None
        await receiver.runner.cleanup()
    for where, text in {"log": log, "dlq list": listed, "rejected": rejected}.items():
        for control in CONTROL_BYTES:
            assert control not in text, (where, control)
        assert b"forged line\\x1b]0;owned\\x07\\x9b2J" in text, where  # shown, inert
    assert b"acme\\n2026-01-01" in log and b"acme\\n2026-01-01" in listed
    assert rejected.count(b"\n") == 2 and listed.count(b"\n") == 1  # one line per record
    assert log.count(b"forged line") == log.count(b"\\n2026-01-01 00:00:00,000 ERROR kete: forged line")
    entries = [json.loads(line) for line in json_log.splitlines()]  # every line is one JSON object
    assert any(FORGED in entry["message"] for entry in entries)
    for control in CONTROL_BYTES[:3]:
        assert control not in json_log


async def test_ready_shows_no_credentials_of_an_unreachable_destination(tmp_path):
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        closed = spare.getsockname()[1]
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        metrics = spare.getsockname()[1]
    config = _config(tmp_path, closed)
    with config.open("a") as text:
        text.write(f'\n[kete.metrics]\nenabled = true\naddress = "127.0.0.1:{metrics}"\n')
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kete_core.cli", "run", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        reason = ""
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as client:
            while "route siem" not in reason:
                assert time.monotonic() < deadline, "the route never reported its destination down"
                await asyncio.sleep(0.1)
                try:
                    async with client.get(f"http://127.0.0.1:{metrics}/ready") as response:
                        reason = await response.text()
                    async with client.get(f"http://127.0.0.1:{metrics}/metrics") as response:
                        scraped = await response.text()
                except aiohttp.ClientConnectionError:
                    continue
        assert PASSWORD not in reason and "http://***@127.0.0.1" in reason
        assert PASSWORD not in scraped
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert PASSWORD.encode() not in err and re.search(rb"http://\*\*\*@127\.0\.0\.1", err)
