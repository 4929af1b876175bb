"""Settings of the serializers (``serializer.*`` keys), as the original KETE reads them."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ValidationInfo, field_validator, model_validator

from kete_core import ComponentConfig, Lowercase
from kete_serializers.template_engine import compile_template


class FormSerializerConfig(ComponentConfig):
    """``url-encoded-form`` and ``multipart-form``."""

    nesting_notation: Annotated[Literal["bracket", "dot"], Lowercase] = "bracket"
    """How nested fields are named: ``bracket`` (``details[username]``) or ``dot`` (``details.username``)."""


Escape = Literal[
    "none", "json", "json-encode", "xml", "xml-encode", "csv", "csv-quote", "url", "url-encode", "base64", "b64"
]


def template_source(text: str | None, encoded: str | None, path: str | None) -> str:
    """The template of the one source set (blank counts as unset, as in the original)."""
    if encoded is not None and encoded.strip():
        return _decoded(encoded)
    if path is not None and path.strip():
        return _read(path)
    return text or ""


def _decoded(encoded: str) -> str:
    try:
        return base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"not Base64 of UTF-8 text: {exc}") from exc


def _read(path: str) -> str:
    try:
        return Path(path.strip()).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"cannot read the template file {path.strip()!r}: {reason}") from exc


class TemplateSerializerConfig(ComponentConfig):
    """``template``: the original's ``TemplateSerializer`` settings."""

    content_type: str = "text/plain"
    """The content type sinks announce."""
    variable_escape: Annotated[Escape, Lowercase] = "none"
    """How every variable's value is escaped, unless the variable names its own filter (``${id:json}``)."""
    template_file_text: str | None = None
    """The template itself."""
    template_file_base64: str | None = None
    """The template as Base64 of UTF-8 text."""
    template_file_path: str | None = None
    """A file holding the template (UTF-8), read when kete starts."""

    @field_validator("content_type")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        if not value.strip() or "\n" in value or "\r" in value:
            raise ValueError("a content type is one line of text, such as text/plain")
        return value.strip()

    @field_validator("template_file_text", "template_file_base64", "template_file_path")
    @classmethod
    def _compiles(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return value
        source = {"template_file_text": (value, None, None), "template_file_base64": (None, value, None)}
        text = template_source(*source.get(str(info.field_name), (None, None, value)))
        if not text.strip():
            raise ValueError("the template is blank")
        compile_template(text)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> TemplateSerializerConfig:
        sources = (self.template_file_text, self.template_file_base64, self.template_file_path)
        if sum(1 for source in sources if source is not None and source.strip()) != 1:
            raise ValueError(
                "exactly one of template-file-text, template-file-base64 or template-file-path must be set"
            )
        return self

    def template(self) -> str:
        """The template text, from the source that is set."""
        return template_source(self.template_file_text, self.template_file_base64, self.template_file_path)
