"""A test PKI for every test session that asks for one: a CA with a server certificate (127.0.0.1,
localhost) and a client certificate, written to a temporary folder."""

from __future__ import annotations

import pytest

from kete_core.tls.testing import Pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """kete's test CA with a server certificate for 127.0.0.1/localhost and a client certificate."""
    return Pki(tmp_path_factory.mktemp("pki"))
