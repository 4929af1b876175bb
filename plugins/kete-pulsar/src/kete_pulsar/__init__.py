"""Apache Pulsar for kete: the ``pulsar`` sink (``destination.kind = "pulsar"``, :mod:`kete_pulsar.sink`) on the
official ``pulsar-client``; its settings are in :mod:`kete_pulsar.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
