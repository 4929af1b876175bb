"""A session-scoped AMQP 1.0 peer behaving as Azure Event Hubs and Service Bus towards senders
(:mod:`kete_azure.testing.amqp`), for the tests marked ``@pytest.mark.azure``.

* ``azure_amqp``: the peer on a free 127.0.0.1 port, plain AMQP (``UseDevelopmentEmulator=true`` connection
  strings), started once per session. Tests add the entities they use (``azure_amqp.event_hubs[name] = 2``,
  ``azure_amqp.queues.add(name)``) under names of their own, and restart it if they stop it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def azure_amqp() -> Iterator:
    from kete_azure.testing.amqp import AzureMessagingPeer

    peer = AzureMessagingPeer().start()
    yield peer
    peer.close()
