"""ZeroMQ for kete: the ``zeromq`` sink (``destination.kind``, :mod:`kete_zeromq.sink`) on pyzmq; its
settings are in :mod:`kete_zeromq.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
