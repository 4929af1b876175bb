"""Template casings as the original KETE computes them: Java's toUpperCase/toLowerCase and Guava's
``CaseFormat.UPPER_UNDERSCORE.to(...)``, which splits at underscores only and changes ASCII letters
only. Checked against a table, and against Guava itself run by the machine's Java."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from kete_core.cases import CASES
from kete_core.event import parse_event
from kete_core.testing.services import ServiceUnavailable, cache_dir, find_java, maven_artifacts, unavailable
from tests.seeds import seed_admin_types, seed_user_event_types

JAVA = Path(__file__).resolve().parent / "java"  # the harness, and the pom that pins KETE's Guava
NAMES = ["UpperCase", "LowerCase", "KebabCase", "PascalCase", "CamelCase"]

# value: upper, lower, kebab, pascal, camel, as Guava's algorithm gives them
TABLE = {
    "LOGIN_ERROR": ("LOGIN_ERROR", "login_error", "login-error", "LoginError", "loginError"),
    "ADMIN_EVENT": ("ADMIN_EVENT", "admin_event", "admin-event", "AdminEvent", "adminEvent"),
    "master": ("MASTER", "master", "master", "Master", "master"),
    "demo-realm": ("DEMO-REALM", "demo-realm", "demo-realm", "Demo-realm", "demo-realm"),
    "Demo-Realm": ("DEMO-REALM", "demo-realm", "demo-realm", "Demo-realm", "demo-realm"),
    "acme corp": ("ACME CORP", "acme corp", "acme corp", "Acme corp", "acme corp"),
    "partner_portal": ("PARTNER_PORTAL", "partner_portal", "partner-portal", "PartnerPortal", "partnerPortal"),
    "a__b": ("A__B", "a__b", "a--b", "AB", "aB"),
    "_x_": ("_X_", "_x_", "-x-", "X", "X"),
    "myRealm": ("MYREALM", "myrealm", "myrealm", "Myrealm", "myrealm"),
    "ÉLAN_vital": ("ÉLAN_VITAL", "élan_vital", "Élan-vital", "ÉlanVital", "ÉlanVital"),
    "straße_ä": ("STRASSE_Ä", "straße_ä", "straße-ä", "Straßeä", "straßeä"),
}


@pytest.mark.parametrize("value", list(TABLE))
def test_casings_follow_guava(value):
    assert tuple(CASES[name](value) for name in NAMES) == TABLE[value]


def test_a_realm_with_a_hyphen_renders_as_the_original_names_it():
    from kete_core.builtins.kete_renderer import KeteRenderer
    from kete_core.contracts import ComponentConfig

    template = KeteRenderer(ComponentConfig(), {}).compile("${realmPascalCase}/${realmCamelCase}/${realmKebabCase}")
    event = parse_event({"type": "LOGIN", "realmName": "demo-realm"})
    assert template.render(event) == "Demo-realm/demo-realm/demo-realm"


def _guava() -> str:
    """Guava's class path, fetched from Maven Central into the test cache on first use."""
    libs = maven_artifacts(JAVA / "pom.xml", cache_dir() / "guava-33.5.0-jre", purpose="Guava")
    return os.pathsep.join(str(jar) for jar in sorted(libs.glob("*.jar")))


def _values() -> list[str]:
    """The table, every Keycloak event type and admin resource type, and random strings of
    letters (ASCII and not), digits, underscores, hyphens, dots and spaces."""
    resources, operations = seed_admin_types()
    values = [*TABLE, *seed_user_event_types(), *resources, *operations, "EVENT", "SUCCESS", "ERROR"]
    alphabet = "aZ_-. 09éÉß\u0131\u0130\u01c5"  # dotless i, dotted I, a title-case letter
    rng = random.Random(16)
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(400)]
    return values


def test_casings_are_what_guava_gives(tmp_path):
    try:
        java, classpath = find_java("KETE's casings with Guava"), _guava()
    except ServiceUnavailable as exc:
        unavailable(exc)
    values = _values()
    result = subprocess.run(
        [java, "-Duser.language=en", "-Duser.country=US", "-cp", classpath, str(JAVA / "KeteCases.java")],
        input="\n".join(values) + "\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert len(lines) == len(values)
    differences = [
        (value, name, guava, CASES[name](value))
        for value, line in zip(values, lines, strict=True)
        for name, guava in zip(NAMES, line.split("\t"), strict=True)
        if CASES[name](value) != guava
    ]
    assert differences == []
