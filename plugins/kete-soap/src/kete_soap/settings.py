"""Settings of the ``soap`` sink: the ``http`` sink's (KETE's endpoint, authentication and encoding
settings, kete's TLS, signing and retries), plus KETE's ``soap-version`` and ``soap-action``."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from kete_http.settings import HttpSinkConfig
from pydantic import BeforeValidator

_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def _version(value: Any) -> Any:
    # A TOML number (1.2) or a .properties string (" 1.2 ") both name a version.
    return str(value).strip() if isinstance(value, (str, float, int)) else value


def _blank_is_none(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


class SoapSinkConfig(HttpSinkConfig):
    """Settings of the ``soap`` sink."""

    soap_version: Annotated[Literal["1.1", "1.2"], BeforeValidator(_version)] = "1.1"
    """``1.1`` (``text/xml``, namespace ``http://schemas.xmlsoap.org/soap/envelope/``) or ``1.2``
    (``application/soap+xml``, namespace ``http://www.w3.org/2003/05/soap-envelope``)."""
    soap_action: Annotated[str | None, BeforeValidator(_blank_is_none)] = None
    """The ``SOAPAction`` header's value, sent as it is (KETE sends the header for both versions)."""

    def problems(self) -> list[tuple[str, str]]:
        """The http sink's problems, and SOAP's own."""
        found = super().problems()
        if self.method != "POST":
            found.append(("method", "SOAP requests are POSTs"))
        if self.soap_action is not None and _UNSAFE.search(self.soap_action):
            found.append(("soap-action", "a header value may not contain control characters"))
        return found
