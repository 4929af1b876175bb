"""HTTP for kete: the ``http`` sink (webhooks out) and the ``http`` source (webhooks in)."""

from kete_http.payloads import normalise
from kete_http.signing import SigningSettings
from kete_http.sink import HttpError, HttpSink, HttpSinkConfig
from kete_http.source import HttpSource, HttpSourceConfig

__all__ = ["HttpError", "HttpSink", "HttpSinkConfig", "HttpSource", "HttpSourceConfig", "SigningSettings", "normalise"]
