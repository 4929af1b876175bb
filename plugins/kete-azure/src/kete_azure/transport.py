"""What the HTTP clients of kete-azure share: an aiohttp session carrying kete's TLS context, an
azure-core transport on it for the SDK clients, and the SDK's per-request logging kept out of kete's log."""

from __future__ import annotations

import logging
import ssl

import aiohttp
from azure.core.pipeline.transport import AioHttpTransport

SDK_LOG = logging.getLogger("kete.azure.sdk")
"""The logger the SDK clients are given (``logger=``): azure-core logs every request and response at
INFO, thousands of lines a second in kete's log; here only its warnings pass."""
SDK_LOG.setLevel(logging.WARNING)


def aiohttp_transport(tls: ssl.SSLContext | bool) -> AioHttpTransport:
    """A transport on a session of its own (closed with the client) using *tls* (``checked_client_ssl``'s)."""
    return AioHttpTransport(session=client_session(tls), session_owner=True)


def client_session(tls: ssl.SSLContext | bool) -> aiohttp.ClientSession:
    """An aiohttp session using *tls* (``checked_client_ssl``'s), for the SDK transports and the REST sinks."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls))
