"""STOMP for kete: the ``stomp`` sink (:mod:`kete_stomp.sink`), a small asyncio STOMP 1.2 client
(:mod:`kete_stomp.frames`, :mod:`kete_stomp.connection`) that pipelines SEND frames and waits for their
receipts; its settings are in :mod:`kete_stomp.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
