"""URL templates for sinks that send to a templated URL (http, websocket): the configured text
encoded once, and each variable's value percent-encoded so that no value changes the URL's shape.

yarl (an aiohttp dependency) is imported only when a URL template is encoded: the core does not
depend on it, the sinks that use this do.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


def url_template(target: str) -> str:
    """The configured URL template as yarl encodes it, its variables kept: what the text leaves raw
    (a space, say) is encoded here once, so that each event's URL, whose values :func:`url_value`
    encoded, is taken as it is (no second pass decodes ``%40`` or ``%2C`` back). ``ValueError``
    when *target* is not a URL."""
    from yarl import URL

    variables: list[str] = []

    def mask(match: re.Match[str]) -> str:
        variables.append(match.group())
        return f"ketevariable{len(variables) - 1}x"

    text = str(URL(_PLACEHOLDER.sub(mask, target)))
    for index, variable in enumerate(variables):
        text = text.replace(f"ketevariable{index}x", variable, 1)
    return text


def url_value(value: str) -> str:
    """A variable's value as it goes into a URL (the ``escape`` of :meth:`SinkContext.address`):
    percent-encoded as RFC 3986 says, all but letters, digits and ``-._~`` (so ``a b`` and ``a%20b``
    stay two values, and no value adds a ``/``, ``?`` or ``#``). ``.`` and ``..`` are refused: as a
    path segment they would move up the path."""
    if value in (".", ".."):
        raise ValueError("as a path segment it would move up the path")
    return quote(value, safe="")
