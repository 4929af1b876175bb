"""The five casings of KETE's template variables (``UpperCase`` … ``CamelCase``), as the original
computes them.

KETE converts every value with Guava's ``CaseFormat.UPPER_UNDERSCORE.to(...)``, whatever the
value looks like: words are split at underscores only, and only ASCII letters change case in the
kebab, Pascal and camel forms. So realm ``demo-realm`` gives ``Demo-realm`` / ``demo-realm``
(not ``DemoRealm``), ``acme corp`` gives ``Acme corp``, and ``a__b`` gives ``a--b``, as topics,
URLs and paths of KETE users already are. ``UpperCase`` and ``LowerCase`` are Java's
``toUpperCase``/``toLowerCase``: every letter, separators kept.
"""

from __future__ import annotations

from collections.abc import Callable

_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_lower(value: str) -> str:
    """Guava's ``Ascii.toLowerCase``: ``A``-``Z`` only."""
    return value.translate(_ASCII_LOWER)


def _capitalized(word: str) -> str:
    """Guava's ``firstCharOnlyToUpper``: ASCII upper case for the first character, lower for the rest."""
    return word[:1].translate(_ASCII_UPPER) + _ascii_lower(word[1:])


def kebab_case(value: str) -> str:
    """``LOGIN_ERROR`` → ``login-error``; ``Acme_Corp`` → ``acme-corp``."""
    return _ascii_lower(value.replace("_", "-"))


def pascal_case(value: str) -> str:
    """``LOGIN_ERROR`` → ``LoginError``; ``demo-realm`` → ``Demo-realm``."""
    return "".join(map(_capitalized, value.split("_")))


def camel_case(value: str) -> str:
    """``LOGIN_ERROR`` → ``loginError``; ``Demo-Realm`` → ``demo-realm``."""
    first, *rest = value.split("_")
    return _ascii_lower(first) + "".join(map(_capitalized, rest))


CASES: dict[str, Callable[[str], str]] = {
    "UpperCase": str.upper,
    "LowerCase": str.lower,
    "KebabCase": kebab_case,
    "PascalCase": pascal_case,
    "CamelCase": camel_case,
}
