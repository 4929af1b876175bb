"""SignalR for kete: the ``signalr`` sink (:mod:`kete_signalr.sink`) speaking the JSON hub protocol
(:mod:`kete_signalr.protocol`) over WebSockets; its settings in :mod:`kete_signalr.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
