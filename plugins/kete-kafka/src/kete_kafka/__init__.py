"""Kafka for kete: the ``kafka`` sink (``destination.kind = "kafka"``, :mod:`kete_kafka.sink`) and
source (``kind = "kafka"``, :mod:`kete_kafka.source`), both on confluent-kafka (librdkafka); their
settings are in :mod:`kete_kafka.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
