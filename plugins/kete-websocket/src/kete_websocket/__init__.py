"""WebSocket for kete: the ``websocket`` sink (:mod:`kete_websocket.sink`), its settings in
:mod:`kete_websocket.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
