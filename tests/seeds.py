"""The Keycloak types and matcher examples of the seed documents kete was specified from.

Tests read them from ``keycloak_types.json`` beside this file, so that they run on any clone.
That file is made from the seed documents (``python -m tests.seeds`` when they are beside the
repository, in ``../shared/seeds``), and a test checks that it still agrees with them there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
RECORDED = Path(__file__).with_name("keycloak_types.json")


def recorded() -> dict[str, list[str]]:
    """The recorded types and examples: user event types, admin resource and operation types,
    and the seed's event-matcher examples."""
    return json.loads(RECORDED.read_text(encoding="utf-8"))


def seed_user_event_types() -> set[str]:
    """Every user event type named in either seed document, with the vendor typo fixed."""
    return set(recorded()["user-event-types"])


def seed_admin_types() -> tuple[set[str], set[str]]:
    """(resource types, operation types) of the KETE seed document."""
    facts = recorded()
    return set(facts["admin-resource-types"]), set(facts["admin-operation-types"])


def seed_matcher_examples() -> list[str]:
    """The event-matcher examples of the KETE seed document, in its order."""
    return recorded()["event-matcher-examples"]


def read_seed_documents() -> dict[str, list[str]]:
    """What :func:`recorded` holds, read from the seed documents themselves."""
    resources, operations = _parse_admin_types()
    examples = re.findall(r"^kete\.routes\.[\w-]+\.event-matchers\.[\w-]+=(\S+)$", seed_text("002"), re.MULTILINE)
    return {
        "user-event-types": sorted(_parse_user_event_types()),
        "admin-resource-types": sorted(resources),
        "admin-operation-types": sorted(operations),
        "event-matcher-examples": examples,
    }


def seed_text(prefix: str) -> str:
    matches = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    assert matches, f"seed document {prefix}_*.txt not found in {SEEDS}"
    return matches[0].read_text(encoding="utf-8")


def _parse_user_event_types() -> set[str]:
    names: set[str] = set()
    vendor = seed_text("000").replace("IDNETITY_", "IDENTITY_")
    names |= set(re.findall(r"<td>([A-Z][A-Z0-9_]+)</td>", vendor))
    kete = seed_text("002")
    user_part = kete.split("Admin Events\n\nKeycloak admin events")[0]
    names |= set(re.findall(r"^([A-Z][A-Z0-9_]*[A-Z0-9]) [A-Z]", user_part, re.MULTILINE))
    return names


def _parse_admin_types() -> tuple[set[str], set[str]]:
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


if __name__ == "__main__":
    RECORDED.write_text(json.dumps(read_seed_documents(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RECORDED}")
