"""URL encoding as the original does it (``java.net.URLEncoder``), for the forms and template filters."""

from __future__ import annotations

from urllib.parse import quote_plus


def url_encode(text: str) -> str:
    """``java.net.URLEncoder.encode(text, UTF_8)``: only ``A-Za-z0-9.-*_`` stay, spaces become ``+``."""
    return quote_plus(text, safe="*").replace("~", "%7E")
