"""MQTT for kete: the ``mqtt-3`` and ``mqtt-5`` sinks (``destination.kind``, :mod:`kete_mqtt.sink`) on
paho-mqtt; their settings are in :mod:`kete_mqtt.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
