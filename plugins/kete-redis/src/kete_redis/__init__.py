"""Redis for kete: the ``redis-pubsub`` sink (``PUBLISH``, :mod:`kete_redis.pubsub`) and the
``redis-stream`` sink (``XADD``, :mod:`kete_redis.stream`; ``redis-streams`` is its older KETE name);
their settings are in :mod:`kete_redis.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
