"""Settings of the serializers (``serializer.*`` keys), as the original KETE reads them."""

from __future__ import annotations

from typing import Annotated, Literal

from kete_core import ComponentConfig, Lowercase


class FormSerializerConfig(ComponentConfig):
    """``url-encoded-form`` and ``multipart-form``."""

    nesting_notation: Annotated[Literal["bracket", "dot"], Lowercase] = "bracket"
    """How nested fields are named: ``bracket`` (``details[username]``) or ``dot`` (``details.username``)."""
