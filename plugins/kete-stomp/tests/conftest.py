"""Fixtures of the STOMP plugin's tests; the broker (``rabbitmq``, with its STOMP plugin) and names for a test's
exchange and queue (``rabbitmq_names``) come from ``tests/services/rabbitmq_fixtures.py``, ``kete run`` in the
background (``spawn_kete``) from ``tests/services/kete_fixtures.py``, the test client from
``tests/services/rabbitmq_client.py``."""
