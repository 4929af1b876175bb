"""Azure for kete: the ``azure-storage-queue`` sink (:mod:`kete_azure.storage_queue`, settings in
:mod:`kete_azure.settings`).

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
