"""A real OAuth 2.0 token endpoint (:class:`kete_core.testing.oauth.TokenEndpoint`) on 127.0.0.1 for the
tests of sinks that take KETE's ``oauth.*`` settings: ``token_endpoint``, one per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kete_core.testing.oauth import TokenEndpoint


@pytest.fixture
async def token_endpoint() -> AsyncIterator[TokenEndpoint]:
    """A token endpoint issuing ``token-1``, ``token-2``, … to its client; stopped after the test."""
    endpoint = await TokenEndpoint().start()
    yield endpoint
    await endpoint.stop()
