from __future__ import annotations

import pytest
from kete_matchers.matchers import GlobMatcher, ListMatcher, RegexMatcher, SqlMatcher

from kete_core.discovery import load
from kete_core.errors import ConfigError
from kete_core.routing import MatcherGroup, compile_matcher
from tests.seeds import seed_matcher_examples


def group(*specs: str, require_all: bool = False) -> MatcherGroup:
    """Matchers compiled through the installed entry points, as a route does."""
    matchers = [compile_matcher(spec, lambda kind: load("matcher", kind)[0], path="test") for spec in specs]
    return MatcherGroup(matchers, require_all=require_all)


# What each example of the KETE event-type reference must and must not accept.
SEED_EXPECTATIONS = {
    "list:LOGIN,LOGOUT,REGISTER": (["LOGIN", "LOGOUT", "REGISTER", "login"], ["LOGIN_ERROR", "REGISTER_ERROR"]),
    "list:not:REFRESH_TOKEN,CODE_TO_TOKEN": (["LOGIN", "CODE_TO_TOKEN_ERROR"], ["REFRESH_TOKEN", "code_to_token"]),
    "list:USER_CREATE,USER_UPDATE,USER_DELETE": (["USER_CREATE", "USER_DELETE"], ["USER_ACTION", "GROUP_CREATE"]),
    "glob:LOGIN*": (["LOGIN", "LOGIN_ERROR"], ["LOGOUT", "CLIENT_LOGIN"]),
    "glob:*_ERROR": (["LOGIN_ERROR", "UPDATE_TOTP_ERROR"], ["LOGIN", "ERROR_LOGIN"]),
    "glob:IDENTITY_PROVIDER_*": (["IDENTITY_PROVIDER_LOGIN", "IDENTITY_PROVIDER_MAPPER_CREATE"], ["IDENTITY_PROVIDER"]),
    "glob:USER_*": (["USER_CREATE", "USER_INFO_REQUEST"], ["GROUP_CREATE", "USERX"]),
    "regex:UPDATE_.*": (["UPDATE_PASSWORD", "UPDATE_TOTP_ERROR"], ["USER_UPDATE", "CLIENT_UPDATE"]),
    "regex:(CODE_TO_TOKEN|REFRESH_TOKEN|INTROSPECT_TOKEN)": (
        ["CODE_TO_TOKEN", "REFRESH_TOKEN", "introspect_token"],
        ["REFRESH_TOKEN_ERROR", "TOKEN_EXCHANGE"],
    ),
    "regex:.*_CREATE": (["USER_CREATE", "REALM_ROLE_CREATE"], ["USER_CREATE_ERROR", "CREATE_USER"]),
    "sql:LOGIN%": (["LOGIN", "LOGIN_ERROR"], ["CLIENT_LOGIN"]),
    "sql:%_ERROR": (["LOGIN_ERROR", "LOGOUT_ERROR"], ["LOGIN"]),
    # LIKE's '_' is a wildcard, as in the original: USER_% also takes USERS.
    "sql:USER_%": (["USER_CREATE", "USER_UPDATE", "USERS"], ["USER", "GROUP_CREATE"]),
}


def test_every_matcher_example_of_the_seed_document_is_checked():
    examples = seed_matcher_examples()
    assert len(examples) == 13
    assert set(examples) == set(SEED_EXPECTATIONS)


@pytest.mark.parametrize("spec", sorted(SEED_EXPECTATIONS))
def test_seed_example(spec):
    accepted, refused = SEED_EXPECTATIONS[spec]
    matchers = group(spec)
    for value in accepted:
        assert matchers.accepts(value), f"{spec} should accept {value}"
    for value in refused:
        assert not matchers.accepts(value), f"{spec} should refuse {value}"


def test_regex_matches_the_whole_value_as_the_originals_code_does():
    # The original's docs claim regex:^LOGIN means "starts with LOGIN"; its code (Matcher.matches()) disagrees.
    assert group("regex:^LOGIN").accepts("LOGIN")
    assert not group("regex:^LOGIN").accepts("LOGIN_ERROR")
    assert not group("regex:ERROR$").accepts("LOGIN_ERROR")
    assert group("regex:LOGIN.*").accepts("LOGIN_ERROR")


def test_all_kinds_are_case_insensitive():
    for spec in ("list:login", "glob:lo?in", "regex:l.GIN", "sql:lOg_n"):
        assert group(spec).accepts("LOGIN"), spec
        assert group(spec).accepts("login"), spec


def test_glob_escapes_and_literal_underscore():
    assert group("glob:A\\*").accepts("A*")
    assert not group("glob:A\\*").accepts("AB")
    assert group("glob:A\\?").accepts("A?")
    assert not group("glob:USER_*").accepts("USERXCREATE")
    assert group("glob:a.b").accepts("A.B") and not group("glob:a.b").accepts("AXB")


def test_sql_escapes():
    assert group("sql:USER\\_%").accepts("USER_CREATE")
    assert not group("sql:USER\\_%").accepts("USERXCREATE")
    assert group("sql:100\\%").accepts("100%") and not group("sql:100\\%").accepts("1000")


def test_list_trims_and_drops_blank_entries():
    matcher = ListMatcher(" LOGIN , ,LOGOUT ,")
    assert matcher.values == {"login", "logout"}


def test_not_inverts_every_kind():
    for kind, pattern in (("list", "LOGIN"), ("glob", "LOG*"), ("regex", "LOG.*"), ("sql", "LOG%")):
        negated = group(f"{kind}:not:{pattern}")
        assert not negated.accepts("LOGIN") and negated.accepts("CODE_TO_TOKEN"), kind
        assert group(f"{kind.upper()}:NOT:{pattern}").accepts("LOGOUT_X") is not group(f"{kind}:{pattern}").accepts(
            "LOGOUT_X"
        )


def test_patterns_may_contain_colons():
    assert group("list:a:b").accepts("A:B")
    assert group("regex:x:.*").accepts("x:y")


def test_blank_values_never_match_even_negated():
    assert not group("glob:*").accepts("")
    assert not group("list:not:LOGIN").accepts("")


def test_modes_any_and_all():
    assert group("glob:LOGIN*", "glob:*_ERROR").accepts("LOGOUT_ERROR")
    assert not group("glob:LOGIN*", "glob:*_ERROR", require_all=True).accepts("LOGOUT_ERROR")
    assert group("glob:LOGIN*", "glob:*_ERROR", require_all=True).accepts("LOGIN_ERROR")
    # "Everything but X" needs mode all with glob:* and glob:not:X, as in the original.
    everything_but = group("glob:*", "glob:not:REFRESH_TOKEN", require_all=True)
    assert everything_but.accepts("LOGIN") and not everything_but.accepts("REFRESH_TOKEN")
    assert group().accepts("ANYTHING")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("regex:(unclosed", "invalid regex pattern"),
        ("list:,, ,", "the list has no values"),
        ("glob:", "the pattern is blank"),
        ("LOGIN", "malformed matcher"),
        (":LOGIN", "the kind is blank"),
        ("list:not: ", "the pattern is blank"),
    ],
)
def test_invalid_patterns_fail_at_compile_time(spec, message):
    with pytest.raises(ConfigError, match=message):
        group(spec)


def test_the_entry_points_resolve_to_the_classes():
    assert load("matcher", "list")[0] is ListMatcher
    assert load("matcher", "glob")[0] is GlobMatcher
    assert load("matcher", "regex")[0] is RegexMatcher
    assert load("matcher", "sql")[0] is SqlMatcher
