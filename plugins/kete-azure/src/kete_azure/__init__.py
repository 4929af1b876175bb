"""Azure for kete: the ``azure-storage-queue`` sink (:mod:`kete_azure.storage_queue`) and the
``azure-eventgrid`` sink (:mod:`kete_azure.eventgrid`), their settings in :mod:`kete_azure.settings`,
a test Event Grid topic in :mod:`kete_azure.testing`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
