"""``template``: the event written into the operator's template, as the original's ``TemplateSerializer``.

See :mod:`kete_serializers.template_engine` for the syntax and variables and
:class:`~kete_serializers.settings.TemplateSerializerConfig` for the settings. The output is UTF-8.
"""

from __future__ import annotations

from typing import ClassVar

from kete_core import Event, Serializer
from kete_serializers.settings import TemplateSerializerConfig
from kete_serializers.template_engine import ESCAPES, compile_template, render, variables


class TemplateSerializer(Serializer):
    """Writes ``template-file-*`` with the event's values; ``content-type`` is what sinks announce."""

    Config = TemplateSerializerConfig
    config: TemplateSerializerConfig
    binary: ClassVar[bool] = False

    def __init__(self, config: TemplateSerializerConfig) -> None:
        super().__init__(config)
        self.content_type = config.content_type  # type: ignore[misc]  # a setting here, not a class constant
        self._parts = compile_template(config.template())
        self._escape = ESCAPES[config.variable_escape]

    def serialize(self, event: Event) -> bytes:
        text = render(self._parts, variables(event), self._escape)
        try:
            return text.encode()
        except UnicodeEncodeError as exc:
            raise ValueError(f"the rendered template holds a lone surrogate: {exc}") from exc
