"""NATS for kete: the ``nats`` sink (core NATS, :mod:`kete_nats.sink`) and the ``nats-jetstream`` sink
(JetStream with acknowledgements, :mod:`kete_nats.jetstream`); their settings are in
:mod:`kete_nats.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
