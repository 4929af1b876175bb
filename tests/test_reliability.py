"""Durability and operations, end to end through `kete run` subprocesses: the spool, resuming,
dead letters and their replay, rejected records, the data-dir lock, health and metrics, logs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from kete_core.testing import run_kete


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def events_file(tmp_path: Path, count: int, start: int = 0, name: str = "events.jsonl") -> Path:
    path = tmp_path / name
    with path.open("a") as handle:
        for number in range(start, start + count):
            kind = "LOGOUT" if number % 3 == 0 else "LOGIN"
            handle.write(json.dumps({"type": kind, "id": f"e{number}", "realmName": "acme"}) + "\n")
    return path


def config(tmp_path: Path, destination: str, extra: str = "") -> Path:
    path = tmp_path / "kete.toml"
    path.write_text(
        f'[kete]\ndata-dir = "{tmp_path / "data"}"\n{extra}\n'
        f'[sources.replay]\nkind = "file"\npath = "{tmp_path / "events.jsonl"}"\n'
        f'[routes.all]\nretry.wait-duration = "1ms"\ndestination.kind = "file"\ndestination.path = "{destination}"\n'
    )
    return path


def ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()] if path.exists() else []


def test_a_replay_resumes_where_it_stopped(tmp_path):
    events_file(tmp_path, 10)
    out = tmp_path / "out.jsonl"
    cfg = config(tmp_path, str(out))
    assert run_kete("run", str(cfg)).returncode == 0
    assert run_kete("run", str(cfg)).returncode == 0
    assert ids(out) == [f"e{n}" for n in range(10)], "a second run resumes at the end, it does not replay"
    events_file(tmp_path, 5, start=10)
    assert run_kete("run", str(cfg)).returncode == 0
    assert ids(out) == [f"e{n}" for n in range(15)]


def test_dead_letters_are_listed_and_replayed(tmp_path):
    events_file(tmp_path, 6)
    (tmp_path / "blocked").write_text("a file where the output directory should be")
    cfg = config(tmp_path, f"{tmp_path}/blocked/out.jsonl")
    result = run_kete("run", str(cfg))
    assert result.returncode == 1
    assert "dead-lettered to" in result.stderr

    listing = run_kete("dlq", "list", str(cfg))
    lines = listing.stdout.splitlines()
    assert len(lines) == 6 and all("  all  " in line and "attempts=3" in line for line in lines)
    assert "6 dead letter(s)" in listing.stderr

    (tmp_path / "blocked").unlink()
    replay = run_kete("dlq", "replay", str(cfg))
    assert replay.returncode == 0 and "6 dead letter(s) handed back" in replay.stdout
    assert run_kete("dlq", "list", str(cfg)).stdout == ""
    result = run_kete("run", str(cfg))
    assert result.returncode == 0, result.stderr
    assert sorted(ids(tmp_path / "blocked" / "out.jsonl")) == sorted(f"e{n}" for n in range(6))


def test_rejected_records_are_kept_with_their_reason(tmp_path):
    (tmp_path / "events.jsonl").write_text('{"type":"LOGIN","id":"a"}\n{"type": 5}\nnope\n')
    cfg = config(tmp_path, str(tmp_path / "out.jsonl"))
    assert run_kete("run", str(cfg)).returncode == 0
    listing = run_kete("rejected", str(cfg)).stdout.splitlines()
    assert len(listing) == 2
    assert "events.jsonl:2  field 'type' must be a string, not int" in listing[0]
    assert "events.jsonl:3  not JSON" in listing[1] and listing[1].endswith("nope")


def test_one_kete_per_data_dir(tmp_path):
    events_file(tmp_path, 1)
    cfg = config(tmp_path, str(tmp_path / "out.jsonl"))
    cfg.write_text(
        cfg.read_text().replace(
            'path = "' + str(tmp_path / "events.jsonl") + '"', f'path = "{tmp_path / "events.jsonl"}"\nfollow = true'
        )
    )
    first = subprocess.Popen([sys.executable, "-m", "kete_core.cli", "run", str(cfg)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "out.jsonl").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = run_kete("run", str(cfg))
        assert second.returncode == 1
        assert "kete: error: " in second.stderr and "Traceback" not in second.stderr
        assert "another kete process is using this data directory" in second.stderr
    finally:
        first.terminate()
        first.wait(timeout=20)


def test_a_torn_last_line_is_repaired(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"id":"before"}\n{"id":"half-writ')
    events_file(tmp_path, 2)
    result = run_kete("run", str(config(tmp_path, str(out))))
    assert result.returncode == 0
    assert "cut a partial last line" in result.stderr
    assert ids(out) == ["before", "e0", "e1"]


def test_json_logs(tmp_path):
    events_file(tmp_path, 2)
    with (tmp_path / "events.jsonl").open("a") as handle:
        handle.write("garbage\n")
    result = run_kete("run", str(config(tmp_path, str(tmp_path / "out.jsonl"), 'log-format = "json"')))
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert {record["level"] for record in records} >= {"info", "warning"}
    assert any("rejected" in record["message"] for record in records)


def test_secrets_never_appear_in_errors(tmp_path):
    cfg = tmp_path / "kete.toml"
    cfg.write_text(
        '[routes.r.destination]\nkind = "file"\npath = "x"\nbasic-password = "hunter2-secret"\n'
        '[sources.s]\nkind = "file"\npath = "x"\nbatch-size = "sasl-password-hunter2"\n'
    )
    result = run_kete("check", str(cfg))
    assert result.returncode == 2
    assert "hunter2" not in result.stderr
    assert "routes.r.destination.basic-password: unknown setting" in result.stderr


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_health_ready_and_metrics_endpoints(tmp_path):
    events_file(tmp_path, 30)
    port = free_port()
    cfg = config(tmp_path, str(tmp_path / "out.jsonl"), f'metrics.enabled = true\nmetrics.address = "127.0.0.1:{port}"')
    cfg.write_text(cfg.read_text().replace('kind = "file"\npath', 'kind = "file"\nfollow = true\npath', 1))
    process = subprocess.Popen([sys.executable, "-m", "kete_core.cli", "run", str(cfg)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, body = get(f"http://127.0.0.1:{port}/metrics")
                delivered = 'kete_events_delivered_total{route="all",sink="file"} 30.0' in body
                if delivered and 'kete_delivery_latency_seconds_count{route="all"}' in body:
                    break
            except urllib.error.URLError:
                pass
            assert time.monotonic() < deadline, "metrics never showed the deliveries"
            time.sleep(0.2)
        assert 'kete_events_received_total{source="replay"} 30.0' in body
        assert 'kete_events_matched_total{route="all",sink="file"} 30.0' in body
        assert "kete_spool_depth 0.0" in body
        assert 'kete_delivery_latency_seconds_count{route="all"}' in body
        assert "kete_source_lag_seconds" in body
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
        status, ready = get(f"http://127.0.0.1:{port}/ready")
        assert status == 200 and json.loads(ready) == {"ready": True, "not_ready": {}}
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
