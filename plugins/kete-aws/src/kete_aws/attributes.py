"""What SQS and SNS share: message attributes (KETE's ``eventkind``, ``eventtype`` and
``contenttype`` over ``attributes.*`` and ``headers.*``), the FIFO group and deduplication ids, and
the characters their messages may hold."""

from __future__ import annotations

import re
from typing import Any

from kete_aws.batching import text_payload
from kete_aws.settings import AttributeSettings
from kete_core import Message, PermanentError, RenderError, SinkContext, Template

# The characters SQS and SNS accept in message bodies and attribute values (XML 1.0's).
_REFUSED = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# FIFO group and deduplication ids: 1 to 128 letters, digits and punctuation.
_FIFO_ID = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


class Attributes:
    """Builds the text, attributes and FIFO ids of SQS messages and SNS notifications."""

    def __init__(self, config: AttributeSettings, context: SinkContext) -> None:
        self._encoding = config.encoding
        self._static = {name: _string(value) for name, value in config.static_attributes().items()}
        self._static_size = sum(len(name) + len(value) + 6 for name, value in config.static_attributes().items())
        self._group = self._template(context, "message-group-id", config.message_group_id)
        self._dedup = self._template(context, "message-deduplication-id", config.message_deduplication_id)

    @staticmethod
    def _template(context: SinkContext, setting: str, text: str | None) -> Template | None:
        return context.template(setting, text.strip()) if text and text.strip() else None

    def fields(self, message: Message, body_key: str) -> tuple[dict[str, Any], int] | BaseException:
        """The request fields of *message* (its body under *body_key*, attributes, FIFO ids) and the
        bytes they count for, or the error that fails it alone."""
        text = text_payload(self._encoding.encode(message.payload))
        if isinstance(text, PermanentError):
            return text
        event = message.event
        own = {"eventkind": event.kind, "eventtype": event.event_type, "contenttype": message.content_type}
        for name, value in (("body", text), *own.items()):
            if _REFUSED.search(value):
                return PermanentError(f"{event!r}: the {name} holds characters SQS and SNS refuse")
        fields: dict[str, Any] = {
            body_key: text,
            "MessageAttributes": self._static | {name: _string(value) for name, value in own.items()},
        }
        size = len(text.encode()) + self._static_size + sum(len(name) + len(value) + 6 for name, value in own.items())
        for key, template in (("MessageGroupId", self._group), ("MessageDeduplicationId", self._dedup)):
            if template is None:
                continue
            value = template.render(event)
            if isinstance(value, RenderError):
                return value
            if not _FIFO_ID.match(value):
                return PermanentError(f"{event!r}: {key} {value!r} is not 1 to 128 letters, digits or punctuation")
            fields[key] = value
        return fields, size
