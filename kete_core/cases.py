"""The five casings of KETE's template variables (``UpperCase`` … ``CamelCase``).

Values are split into words at underscores, hyphens and white space, so ``ADMIN_EVENT``,
``admin-event`` and ``admin event`` all give ``admin-event`` in kebab case. ``UpperCase`` and
``LowerCase`` change letters only and keep the separators, as the original does.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_SEPARATORS = re.compile(r"[_\-\s]+")


def _words(value: str) -> list[str]:
    return [word for word in _SEPARATORS.split(value) if word]


def kebab_case(value: str) -> str:
    """``LOGIN_ERROR`` → ``login-error``."""
    return "-".join(word.lower() for word in _words(value))


def pascal_case(value: str) -> str:
    """``LOGIN_ERROR`` → ``LoginError``."""
    return "".join(word.capitalize() for word in _words(value))


def camel_case(value: str) -> str:
    """``LOGIN_ERROR`` → ``loginError``."""
    pascal = pascal_case(value)
    return pascal[:1].lower() + pascal[1:]


CASES: dict[str, Callable[[str], str]] = {
    "UpperCase": str.upper,
    "LowerCase": str.lower,
    "KebabCase": kebab_case,
    "PascalCase": pascal_case,
    "CamelCase": camel_case,
}
