"""SOAP for kete: the ``soap`` sink (:mod:`kete_soap.sink`), kete-http's sink with each event inside a
SOAP envelope; its settings are in :mod:`kete_soap.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
