"""Azure for kete: the ``azure-storage-queue`` sink (:mod:`kete_azure.storage_queue`), the
``azure-eventgrid`` sink (:mod:`kete_azure.eventgrid`), the ``azure-webpubsub`` sink
(:mod:`kete_azure.webpubsub`), the ``azure-eventhubs`` sink (:mod:`kete_azure.eventhubs`), the
``azure-servicebus`` sink (:mod:`kete_azure.servicebus`), their settings in :mod:`kete_azure.settings`; KETE's
token authentication (``managed-identity``, ``default-azure-credential``) in :mod:`kete_azure.credentials`; test
servers in :mod:`kete_azure.testing` (a managed identity endpoint in :mod:`kete_azure.testing.identity`, an
AMQP 1.0 peer in :mod:`kete_azure.testing.amqp`).

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
