"""Fixtures of the STOMP plugin's tests; the broker (``rabbitmq``, with its STOMP plugin), names for a test's
exchange and queue (``rabbitmq_names``) and ``kete run`` in the background (``background_kete``) come from
``tests/services/rabbitmq_fixtures.py``, the test client from ``tests/services/rabbitmq_client.py``."""
