"""Azure for kete: the ``azure-storage-queue`` sink (:mod:`kete_azure.storage_queue`), the
``azure-eventgrid`` sink (:mod:`kete_azure.eventgrid`), the ``azure-webpubsub`` sink
(:mod:`kete_azure.webpubsub`), their settings in :mod:`kete_azure.settings`, and the ``azure-eventhubs``
sink (:mod:`kete_azure.eventhubs`, settings in :mod:`kete_azure.eventhubs_settings`); test services in
:mod:`kete_azure.testing` (an AMQP 1.0 peer in :mod:`kete_azure.testing.amqp`).

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
