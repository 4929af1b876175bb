"""The built-in file source, run as `kete run` subprocesses: follow mode, graceful stop, progress."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

from kete_core.builtins.file_source import FileSource, FileSourceConfig
from kete_core.contracts import Receipt
from kete_core.lines import Position
from kete_core.testing import run_kete


def config(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "kete.toml"
    path.write_text(
        f'[sources.replay]\nkind = "file"\npath = "{tmp_path / "events.jsonl"}"\n{source}\n'
        f'[routes.all]\ndestination.kind = "file"\ndestination.path = "{tmp_path}/out.jsonl"\n'
    )
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def read_up_to(pid: int, path: Path) -> int | None:
    """Where process *pid* has its open file *path* positioned (Linux's /proc), None while it has
    not opened it."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if fd.readlink() == path:
                return int(Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().split()[1])
        except OSError:  # closed meanwhile
            continue
    return None


def test_follow_tails_appended_lines_and_sigterm_drains(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"type":"LOGIN","id":"1"}\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "kete_core.cli", "run", str(config(tmp_path, 'follow = true\npoll-interval = "50ms"'))],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out = tmp_path / "out.jsonl"
        wait_for(lambda: len(lines(out)) == 1)
        with events.open("a") as handle:
            handle.write('{"type":"LOGOUT","id":"2"}\n{"type":"LOG')  # a line still being written
            handle.flush()
            wait_for(lambda: len(lines(out)) == 2)
            handle.write('IN_ERROR","id":"3","error":"x"}\n')
        wait_for(lambda: len(lines(out)) == 3)
        assert process.poll() is None, "follow mode keeps running at the end of the file"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert [event["id"] for event in lines(out)] == ["1", "2", "3"]
    with process.stderr:
        assert "stopping" in process.stderr.read()


def test_start_at_end_skips_what_is_already_there(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"type":"LOGIN","id":"old"}\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "kete_core.cli", "run",
         str(config(tmp_path, 'follow = true\nstart-at = "end"\npoll-interval = "50ms"'))],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # Not a fixed pause: a busy machine may take longer to start kete than any pause.
        wait_for(lambda: read_up_to(process.pid, events) == events.stat().st_size)
        with events.open("a") as handle:
            handle.write('{"type":"LOGIN","id":"new"}\n')
        wait_for(lambda: len(lines(tmp_path / "out.jsonl")) == 1)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert [event["id"] for event in lines(tmp_path / "out.jsonl")] == ["new"]


def test_bad_lines_are_reported_with_their_number_and_skipped(tmp_path):
    (tmp_path / "events.jsonl").write_text(
        '{"type":"LOGIN","id":"1"}\n{"type":\n\n[1,2]\n{"resourceType":"USER"}\n{"type":"LOGOUT","id":"2"}\n'
        '\xff\xfe not utf-8\n{"type":"LOGIN","time":"noon"}\n{"type":"LOGIN","id":"3"}'  # no final newline
    )
    result = run_kete("run", str(config(tmp_path, "")))
    assert result.returncode == 0, result.stderr
    assert [event["id"] for event in lines(tmp_path / "out.jsonl")] == ["1", "2", "3"]
    rejected = [
        line.split("rejected: ")[0].split(": ")[-2] for line in result.stderr.splitlines() if "rejected:" in line
    ]
    name = str(tmp_path / "events.jsonl")
    assert rejected == [f"{name}:2", f"{name}:4", f"{name}:5", f"{name}:7", f"{name}:8"]
    assert "admin event has no 'operationType'" in result.stderr
    assert "9 events received" not in result.stderr and "3 events received, 5 rejected" in result.stderr


def test_a_long_replay_shows_progress_on_a_terminal(tmp_path):
    record = json.dumps({"type": "LOGIN", "realmId": "r", "details": {"pad": "x" * 400}})
    (tmp_path / "events.jsonl").write_text((record + "\n") * 200_000)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "kete_core.cli", "run", str(config(tmp_path, ""))],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(follower)
    seen = b""
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        process.wait(timeout=120)
        os.close(leader)
    assert process.returncode == 0
    assert b"source replay" in seen
    assert b"200000 events received" in seen


class RecordingIntake:
    """Accepts every batch at once and keeps (event ids, checkpoint) of each."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.congested = False
        self.checkpoint = None
        self.batches: list[tuple[list[str], bytes | None]] = []

    async def submit(self, events, checkpoint=None) -> Receipt:
        self.batches.append(([event.id for event in events], checkpoint))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return Receipt(done)


def test_a_read_is_cut_into_near_equal_batches(tmp_path):
    for count, sizes in [(14, [14]), (15, [7, 8]), (24, [12, 12]), (4, [4])]:
        path = tmp_path / f"{count}.jsonl"
        path.write_text("".join(f'{{"type":"LOGIN","id":"{n}"}}\n' for n in range(count)))
        source = FileSource("replay", FileSourceConfig.model_validate({"path": str(path), "batch-size": 10}))
        intake = RecordingIntake()
        asyncio.run(source.run(intake))  # type: ignore[arg-type]
        assert [len(ids) for ids, _ in intake.batches] == sizes
        assert [n for ids, _ in intake.batches for n in ids] == [str(n) for n in range(count)]
        # Only the last batch of a read carries the position after it.
        assert [checkpoint is not None for _, checkpoint in intake.batches] == [False] * (len(sizes) - 1) + [True]
        assert Position.decode(intake.batches[-1][1]).line == count
