"""``destination.kind = "soap"``: kete-http's sink, each event inside a SOAP envelope; see the README.

The envelope is KETE's, byte for byte: ``<soap:Envelope xmlns:soap="<namespace>"><soap:Body>``, the
serialized event as it is (not escaped: an XML payload becomes the body's element, a JSON one its
text), ``</soap:Body></soap:Envelope>``, with no XML declaration. ``content-encoding`` and
``content-transfer-encoding`` apply to the whole envelope. The request is a POST with
``Content-Type: text/xml`` (1.1) or ``application/soap+xml`` (1.2), no parameters, KETE's
``x-eventkind``/``x-eventtype`` headers, and ``SOAPAction`` when ``soap-action`` is set.

A fault the server blames on the request (1.1 ``Client``, 1.2 ``Sender``, ``VersionMismatch``,
``MustUnderstand``, ``DataEncodingUnknown``) fails that event permanently, whatever the HTTP status;
other answers are judged as the http sink judges them (5xx retried, other non-2xx permanent).
"""

from __future__ import annotations

import re

from kete_http.sink import HttpSink

from kete_core import Message, PermanentError, SinkContext, redact
from kete_soap.settings import SoapSinkConfig

ENVELOPES = {
    "1.1": ("http://schemas.xmlsoap.org/soap/envelope/", "text/xml"),
    "1.2": ("http://www.w3.org/2003/05/soap-envelope", "application/soap+xml"),
}
"""Namespace and content type of each SOAP version, as KETE sends them."""

_PREFIX = r"(?:[\w.-]+:)?"
_FAULT_CODE = re.compile(
    rf"<{_PREFIX}faultcode\b[^>]*>\s*{_PREFIX}([\w]+)"  # 1.1
    rf"|<{_PREFIX}Code\b[^>]*>\s*<{_PREFIX}Value\b[^>]*>\s*{_PREFIX}([\w]+)"  # 1.2
)
_FAULT_REASON = re.compile(rf"<{_PREFIX}(?:faultstring|Text)\b[^>]*>([^<]*)<")
_SENDERS_FAULTS = frozenset({"Client", "Sender", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown"})


class SoapSink(HttpSink):
    """Posts each event inside a SOAP envelope; see the module documentation."""

    Config = SoapSinkConfig
    config: SoapSinkConfig

    def __init__(self, config: SoapSinkConfig, context: SinkContext) -> None:
        namespace, self._content_type = ENVELOPES[config.soap_version]
        self._head = f'<soap:Envelope xmlns:soap="{namespace}"><soap:Body>'.encode()
        super().__init__(config, context)

    def frame(self, payload: bytes) -> bytes:
        try:
            payload.decode()
        except UnicodeDecodeError:
            # As KETE, which reads the payload as a UTF-8 string: bytes that are not UTF-8 become U+FFFD.
            payload = payload.decode(errors="replace").encode()
        return b"".join((self._head, payload, b"</soap:Body></soap:Envelope>"))

    def content_type(self, message: Message) -> str:
        return self._content_type

    def protocol_headers(self) -> dict[str, str]:
        action = self.config.soap_action
        return {"SOAPAction": action} if action is not None else {}

    def refusal(self, status: int, detail: str, message: str, retry_after: float | None) -> Exception:
        found = _FAULT_CODE.search(detail)
        code = (found.group(1) or found.group(2)) if found else None
        if code in _SENDERS_FAULTS:
            reason = _FAULT_REASON.search(detail)
            text = reason.group(1).strip() if reason else "no reason given"
            return PermanentError(redact(f"SOAP fault {code}: {text}") + f" ({message})")
        return super().refusal(status, detail, message, retry_after)
