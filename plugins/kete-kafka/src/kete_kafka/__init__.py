"""Kafka for kete: the ``kafka`` sink (``destination.kind = "kafka"``) and source (``kind = "kafka"``).

Both run on confluent-kafka (librdkafka); see the README for their settings.
"""

from kete_kafka.sink import KafkaDeliveryError, KafkaSink, KafkaSinkConfig
from kete_kafka.source import KafkaSource, KafkaSourceConfig

__all__ = ["KafkaDeliveryError", "KafkaSink", "KafkaSinkConfig", "KafkaSource", "KafkaSourceConfig"]
