"""``xml``: Jackson's XML writer (``new XmlMapper()``, Woodstox), byte for byte.

The root element is ``Event`` or ``AdminEvent``; each field is an element in the event's order, with
no XML declaration and no indentation; null and an empty object are an empty element (``<error/>``).
Text escapes ``&`` and ``<``, ``>`` only after ``]]``, a carriage return and U+007F-U+009F as
character references (``&#xd;``). A value
with a control character other than tab and line feed (XML 1.0 cannot hold it; Jackson refuses it
too) or a details key that is not an XML name fails its event alone.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from kete_core import EVENT, Event, Serializer
from kete_serializers.jackson_tree import jackson_tree, scalar

_NAME = re.compile(r"[A-Za-z_\u00c0-\u02ff\u0370-\u1fff\u200c-\u218f\u2c00-\ufffd][\w.\-\u00b7\u0300-\u036f]*")
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", "\r": "&#xd;", **{chr(code): f"&#x{code:x};" for code in range(0x7F, 0xA0)}}
)


def _text(value: str, path: str) -> str:
    bad = _NOT_XML.search(value)
    if bad:
        raise ValueError(f"field '{path}' holds U+{ord(bad.group()):04X}, which XML 1.0 cannot carry")
    return value.translate(_ESCAPES).replace("]]>", "]]&gt;")


def _element(name: str, value: Any, path: str, out: list[str]) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"the key '{path}' is not an XML element name")
    if isinstance(value, dict):
        if not value:
            out.append(f"<{name}/>")
            return
        out.append(f"<{name}>")
        for key, item in value.items():
            _element(str(key), item, f"{path}.{key}", out)
        out.append(f"</{name}>")
        return
    value = scalar(path, value)
    if value is None:
        out.append(f"<{name}/>")
    else:
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        out.append(f"<{name}>{_text(text, path)}</{name}>")


class XmlSerializer(Serializer):
    """Writes the event as the original's ``XmlSerializer`` (Jackson XML)."""

    content_type: ClassVar[str] = "application/xml"
    binary: ClassVar[bool] = False

    def serialize(self, event: Event) -> bytes:
        root = "Event" if event.kind == EVENT else "AdminEvent"
        out = [f"<{root}>"]
        for key, value in jackson_tree(event).items():
            _element(key, value, key, out)
        out.append(f"</{root}>")
        return "".join(out).encode()
