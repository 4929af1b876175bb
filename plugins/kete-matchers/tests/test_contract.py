"""KETE's four matchers pass the matcher contract."""

from __future__ import annotations

from kete_core.testing import MatcherContract


class TestListMatcher(MatcherContract):
    kind = "list"
    matching = [("LOGIN, LOGOUT", "LOGIN"), ("login,,logout", "LOGOUT"), ("Zoë", "ZOË"), ("a", "A")]
    not_matching = [("LOGIN, LOGOUT", "LOGIN_ERROR"), ("LOGIN", "LOGI"), ("LOGIN", " LOGIN")]
    invalid = ["", " , ,"]


class TestGlobMatcher(MatcherContract):
    kind = "glob"
    matching = [("LOGIN*", "LOGIN_ERROR"), ("?OGIN", "LOGIN"), ("*", "日本語"), (r"a\*", "A*"), ("*_ERROR", "x_error")]
    not_matching = [("LOGIN*", "CLIENT_LOGIN"), ("?OGIN", "OGIN"), (r"a\*", "ab"), ("LOG.N", "LOGIN")]


class TestSqlMatcher(MatcherContract):
    kind = "sql"
    matching = [("LOGIN%", "LOGIN_ERROR"), ("_OGIN", "login"), ("%", "ÄÖÜ"), (r"100\%", "100%")]
    not_matching = [("LOGIN%", "CLIENT_LOGIN"), ("_OGIN", "OGIN"), (r"100\%", "1000"), ("LOG.N", "LOGIN")]


class TestRegexMatcher(MatcherContract):
    kind = "regex"
    matching = [("UPDATE_.*", "UPDATE_PASSWORD"), ("LOGIN|LOGOUT", "logout"), (".*ÉVÉNT", "ÄÖÜ_ÉVÉNT")]
    not_matching = [("UPDATE_.*", "X_UPDATE_PASSWORD"), ("LOGIN", "LOGIN_ERROR")]
    invalid = ["(unclosed", "*bad", "[z-a]"]
