"""The shipped quickstart, run as a user runs it, its output checked line by line against routing
rules computed here independently of kete."""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from kete_core.testing import run_kete
from tests.seeds import seed_admin_types, seed_user_event_types

ROOT = Path(__file__).resolve().parent.parent
REALMS = {
    "8a955dbd-df2e-58e7-a768-55e2f4ed8113": "master",
    "ad0606b0-f742-5e2a-a1ef-aef6fbb09496": "acme",
    "a569cd72-4599-55df-9715-f7b8e9439c15": "acme-staging",
    "adb578cc-cd8e-567f-9195-3760145f4dc5": "partner_portal",
}
TOKENS = {"CODE_TO_TOKEN", "REFRESH_TOKEN", "CODE_TO_TOKEN_ERROR", "REFRESH_TOKEN_ERROR"}


def shipped_events() -> list[dict]:
    return [json.loads(line) for line in (ROOT / "examples" / "events.jsonl").read_text().splitlines()]


def expected_files() -> dict[str, list[dict]]:
    files: dict[str, list[dict]] = defaultdict(list)
    for event in shipped_events():
        realm = event.get("realmName") or REALMS[event["realmId"]]
        admin = "resourceType" in event
        event_type = f"{event['resourceType']}_{event['operationType']}" if admin else event["type"]
        kind = "admin-event" if admin else "event"
        kebab_realm = realm.replace("_", "-").lower()
        if event_type in {"LOGIN", "LOGIN_ERROR", "LOGOUT"}:
            files[f"logins/{kebab_realm}.jsonl"].append(event)
        if re.fullmatch(r"acme(-.*)?", realm) and event_type.endswith("_ERROR") and event_type != "LOGIN_ERROR":
            files[f"errors/{realm}.jsonl"].append(event)
        if realm != "master" and (event_type.startswith(("USER_", "GROUP_MEMBERSHIP_"))):
            files[f"users/{kind}.jsonl"].append(event)
        if event_type not in TOKENS:
            files[f"audit/{kebab_realm}/{kind}.jsonl"].append(event)
    return files


def test_the_shipped_events_cover_every_seed_type():
    events = shipped_events()
    user_types = {event["type"] for event in events if "type" in event}
    admin_types = {(event["resourceType"], event["operationType"]) for event in events if "resourceType" in event}
    assert seed_user_event_types() <= user_types
    resources, operations = seed_admin_types()
    assert {(r, o) for r in resources for o in operations} <= admin_types
    assert user_types - seed_user_event_types(), "custom user event types are shipped too"
    assert {event.get("realmName") or REALMS[event["realmId"]] for event in events} == set(REALMS.values())
    assert any("error" in event for event in events) and any("realmName" in event for event in events)


@pytest.fixture(scope="module", params=["quickstart.toml", "quickstart.properties"])
def quickstart_output(request, tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("quickstart")
    shutil.copytree(ROOT / "examples", workdir / "examples", ignore=shutil.ignore_patterns("plugins"))
    result = run_kete("run", f"examples/{request.param}", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "593 events received, 0 rejected" in result.stderr
    return workdir / "out" / "quickstart"


def test_quickstart_output_line_by_line(quickstart_output):
    expected = expected_files()
    written = {
        str(path.relative_to(quickstart_output)): path for path in quickstart_output.rglob("*") if path.is_file()
    }
    assert set(written) == set(expected)
    for name, events in expected.items():
        lines = written[name].read_text(encoding="utf-8").splitlines()
        assert len(lines) == len(events), name
        for line, event in zip(lines, events, strict=True):
            out = json.loads(line)
            assert out["id"] == event["id"], name
            for key, value in event.items():
                if key == "authDetails":
                    assert out[key].items() >= value.items(), name
                    assert out[key]["realmName"] == (value.get("realmName") or REALMS.get(value["realmId"]))
                else:
                    assert out[key] == value, (name, key)
            assert out["realmName"] == (event.get("realmName") or REALMS[event["realmId"]])
            first_keys = ["id", "time", "realmId", "realmName"] if "resourceType" in event else ["id", "time", "type"]
            assert list(out)[: len(first_keys)] == first_keys


def test_toml_and_properties_give_identical_files(tmp_path):
    outputs = []
    for name in ("quickstart.toml", "quickstart.properties"):
        workdir = tmp_path / name
        shutil.copytree(ROOT / "examples", workdir / "examples", ignore=shutil.ignore_patterns("plugins"))
        assert run_kete("run", f"examples/{name}", cwd=workdir).returncode == 0
        root = workdir / "out" / "quickstart"
        outputs.append({str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()})
    assert outputs[0] == outputs[1]


def line_counts(root: Path) -> dict[str, int]:
    return {str(path.relative_to(root)): len(path.read_bytes().splitlines()) for path in root.rglob("*.jsonl")}


def test_running_again_says_where_it_resumed_and_the_twin_does_not_write_twice(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("plugins"))
    out = tmp_path / "out" / "quickstart"
    assert run_kete("run", "examples/quickstart.toml", cwd=tmp_path).returncode == 0
    first = line_counts(out)
    assert sum(first.values()) == 136 + 42 + 23 + 415

    again = run_kete("run", "examples/quickstart.toml", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 events received" in again.stderr
    assert (
        "source replay resumed after line 593 of examples/events.jsonl, its end, where the last run stopped"
        " (`kete run --from-start examples/quickstart.toml` reads from the start)"
    ) in again.stderr
    twin = run_kete("run", "examples/quickstart.properties", cwd=tmp_path)
    assert twin.returncode == 0, twin.stderr
    assert "0 events received" in twin.stderr and "resumed after line 593" in twin.stderr
    assert line_counts(out) == first

    over = run_kete("run", "--from-start", "examples/quickstart.toml", cwd=tmp_path)
    assert over.returncode == 0, over.stderr
    assert "593 events received" in over.stderr and "resumed" not in over.stderr
    assert line_counts(out) == {name: 2 * count for name, count in first.items()}  # the file sink appends
    # The state is in the quickstart's own folder, so `rm -r out` starts over.
    assert (tmp_path / "out" / "quickstart-state" / "spool.sqlite").is_file()
