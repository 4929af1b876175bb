"""The seed documents kete was specified from, read by tests so that every example is checked."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"


def seed_text(prefix: str) -> str:
    matches = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    assert matches, f"seed document {prefix}_*.txt not found in {SEEDS}"
    return matches[0].read_text(encoding="utf-8")


def seed_user_event_types() -> set[str]:
    """Every user event type named in either seed document, with the vendor typo fixed."""
    names: set[str] = set()
    vendor = seed_text("000").replace("IDNETITY_", "IDENTITY_")
    names |= set(re.findall(r"<td>([A-Z][A-Z0-9_]+)</td>", vendor))
    kete = seed_text("002")
    user_part = kete.split("Admin Events\n\nKeycloak admin events")[0]
    names |= set(re.findall(r"^([A-Z][A-Z0-9_]*[A-Z0-9]) [A-Z]", user_part, re.MULTILINE))
    return names


def seed_admin_types() -> tuple[set[str], set[str]]:
    """(resource types, operation types) of the KETE seed document."""
    text = seed_text("002")
    operations = set(re.findall(r"^(CREATE|UPDATE|DELETE|ACTION) ", text, re.MULTILINE))
    resources: set[str] = set()
    section = text.split("Resource Types")[1].split("Filter Examples")[0]
    for line in section.splitlines():
        for category in ("Identity Provider", "Realm", "Client", "User", "Group", "Authentication", "Component",
                         "Authorization", "Other"):  # fmt: skip
            if line.startswith(category + " "):
                resources |= {item.strip() for item in line[len(category) :].split(",")}
                break
    return resources, operations
