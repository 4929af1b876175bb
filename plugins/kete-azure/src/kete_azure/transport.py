"""What both Azure SDK clients of kete-azure share: an aiohttp transport carrying kete's TLS context,
and the SDK's per-request logging kept out of kete's log."""

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
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls))
    return AioHttpTransport(session=session, session_owner=True)
