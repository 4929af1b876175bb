from __future__ import annotations

import pytest

from kete_core import memo
from kete_core.builtins.kete_renderer import KeteRenderer
from kete_core.cases import camel_case, kebab_case, pascal_case
from kete_core.contracts import ComponentConfig
from kete_core.errors import PermanentError, RenderError
from kete_core.event import parse_event

USER = parse_event({"type": "LOGIN_ERROR", "realmName": "my_realm", "error": "invalid_user_credentials"})
ADMIN = parse_event({"resourceType": "REALM_ROLE", "operationType": "CREATE", "realmName": "acme-staging"})


def render(text: str, event=USER, variables=None) -> str:
    return KeteRenderer(ComponentConfig(), variables or {}).compile(text).render(event)


@pytest.mark.parametrize(
    ("variable", "user", "admin"),
    [
        ("kindUpperCase", "EVENT", "ADMIN_EVENT"),
        ("kindLowerCase", "event", "admin_event"),
        ("kindKebabCase", "event", "admin-event"),
        ("kindPascalCase", "Event", "AdminEvent"),
        ("kindCamelCase", "event", "adminEvent"),
        ("realmUpperCase", "MY_REALM", "ACME-STAGING"),
        ("realmLowerCase", "my_realm", "acme-staging"),
        ("realmKebabCase", "my-realm", "acme-staging"),
        ("realmPascalCase", "MyRealm", "Acme-staging"),  # Guava splits at underscores only
        ("realmCamelCase", "myRealm", "acme-staging"),
        ("eventTypeUpperCase", "LOGIN_ERROR", "REALM_ROLE_CREATE"),
        ("eventTypeLowerCase", "login_error", "realm_role_create"),
        ("eventTypeKebabCase", "login-error", "realm-role-create"),
        ("eventTypePascalCase", "LoginError", "RealmRoleCreate"),
        ("eventTypeCamelCase", "loginError", "realmRoleCreate"),
        ("resourceTypeLowerCase", "${resourceTypeLowerCase}", "realm_role"),
        ("resourceTypeKebabCase", "${resourceTypeKebabCase}", "realm-role"),
        ("resourceTypePascalCase", "${resourceTypePascalCase}", "RealmRole"),
        ("resourceTypeCamelCase", "${resourceTypeCamelCase}", "realmRole"),
        ("resourceTypeUpperCase", "${resourceTypeUpperCase}", "REALM_ROLE"),
        ("operationTypeLowerCase", "${operationTypeLowerCase}", "create"),
        ("operationTypePascalCase", "${operationTypePascalCase}", "Create"),
        ("operationTypeUpperCase", "${operationTypeUpperCase}", "CREATE"),
        ("operationTypeKebabCase", "${operationTypeKebabCase}", "create"),
        ("operationTypeCamelCase", "${operationTypeCamelCase}", "create"),
        ("resultLowerCase", "error", "success"),
        ("resultUpperCase", "ERROR", "SUCCESS"),
        ("resultPascalCase", "Error", "Success"),
        ("resultKebabCase", "error", "success"),
        ("resultCamelCase", "error", "success"),
    ],
)
def test_all_thirty_variables(variable, user, admin):
    for event, expected in ((USER, user), (ADMIN, admin)):
        rendered = render("${" + variable + "}", event)
        if expected == "${" + variable + "}":  # no value for this event
            assert isinstance(rendered, RenderError) and expected in str(rendered)
        else:
            assert rendered == expected


def test_a_known_variable_without_a_value_fails_the_event_with_the_reason():
    # The original left the placeholder in place, which made the address invalid and the send fail;
    # kete says so instead of rendering an address with a literal ${...} in it.
    rendered = render("keycloak.${kindLowerCase}.${resourceTypeLowerCase}.${operationTypeLowerCase}")
    assert isinstance(rendered, RenderError) and isinstance(rendered, PermanentError)
    assert str(rendered) == (
        "'keycloak.${kindLowerCase}.${resourceTypeLowerCase}.${operationTypeLowerCase}': "
        "${resourceTypeLowerCase}, ${operationTypeLowerCase} has no value for this event "
        "(only admin events have a resource and an operation type)"
    )
    nameless = render("r-${realmLowerCase}", parse_event({"type": "LOGIN"}))
    assert str(nameless) == "'r-${realmLowerCase}': ${realmLowerCase} has no value for this event"
    secret = render("http://u:pw@h/${resourceTypeLowerCase}")
    assert "pw" not in str(secret) and "http://***@h/" in str(secret)


def test_an_escape_applies_to_values_only_and_may_refuse_one():
    def escape(value: str) -> str:
        if value == "my_realm":
            raise ValueError("not this one")
        return value.replace("-", "%2D")

    template = KeteRenderer(ComponentConfig(), {}).compile("a-${realmLowerCase}", escape)
    assert template.render(ADMIN) == "a-acme%2Dstaging"
    refused = template.render(USER)
    assert isinstance(refused, RenderError)
    assert str(refused) == "'a-${realmLowerCase}': the value 'my_realm' of ${realmLowerCase} is refused: not this one"


def test_literal_text_and_several_variables():
    assert render("kc-${realmKebabCase}-${kindKebabCase}/${eventTypeLowerCase}.jsonl") == (
        "kc-my-realm-event/login_error.jsonl"
    )
    assert render("no variables at all") == "no variables at all"
    assert render("$realmLowerCase and $") == "$realmLowerCase and $"


def test_unknown_variable_is_an_error_with_a_suggestion():
    renderer = KeteRenderer(ComponentConfig(), {})
    with pytest.raises(
        ValueError, match=r"unknown template variable '\$\{realmLowercase\}'; did you mean 'realmLowerCase'"
    ):
        renderer.compile("topic-${realmLowercase}")
    with pytest.raises(ValueError, match=r"unknown template variable '\$\{realm\}'"):
        renderer.compile("${realm}")
    with pytest.raises(ValueError, match="unknown template variable"):
        renderer.compile("${__import__('os').system('id')}")


def test_plugins_add_variables_in_all_five_cases():
    variables = {"clientId": lambda event: event.data.get("clientId")}
    event = parse_event({"type": "LOGIN", "clientId": "account-console"})
    assert render("${clientIdPascalCase}", event, variables) == "Account-console"
    assert render("${clientIdUpperCase}", event, variables) == "ACCOUNT-CONSOLE"
    with pytest.raises(ValueError, match="already defined"):
        KeteRenderer(ComponentConfig(), {"realm": lambda event: "x"})


def test_rendering_is_cached_but_correct_per_event():
    template = KeteRenderer(ComponentConfig(), {}).compile("${realmLowerCase}/${eventTypeLowerCase}")
    assert template.variables == {"realmLowerCase", "eventTypeLowerCase"}
    assert template.render(USER) == "my_realm/login_error"
    assert template.render(ADMIN) == "acme-staging/realm_role_create"
    assert template.render(USER) == "my_realm/login_error"


def test_render_all_gives_what_render_gives_for_each_event(monkeypatch):
    monkeypatch.setattr(memo, "LIMIT", 2)  # the cache fills and is cleared mid-batch
    nameless = parse_event({"type": "LOGIN", "realmId": "id-1"})
    events = [USER, ADMIN, nameless, USER, parse_event({"type": "LOGOUT", "realmName": "x"}), ADMIN]
    variables = {"clientId": lambda event: event.data.get("clientId")}
    renderer = KeteRenderer(ComponentConfig(), variables)
    for text in [
        "${realmKebabCase}/${eventTypeLowerCase}",
        "${resourceTypeLowerCase}",
        "fixed",
        "${clientIdUpperCase}",
    ]:
        fresh = renderer.compile(text)
        batch = [repr(value) for value in fresh.render_all(iter(events))]
        assert batch == [repr(renderer.compile(text).render(event)) for event in events], text
        assert fresh.render_all([]) == []
    assert renderer.compile("${realmLowerCase}").render_all(events)[2] == "id-1"


def test_case_helpers():
    assert kebab_case("ADMIN_EVENT") == "admin-event"
    assert pascal_case("admin event") == "Admin event"
    assert camel_case("USER_DISABLED_BY_PERMANENT_LOCKOUT") == "userDisabledByPermanentLockout"
    assert camel_case("") == ""
