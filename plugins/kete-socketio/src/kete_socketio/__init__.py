"""Socket.IO for kete: the ``socketio`` sink (:mod:`kete_socketio.sink`), its settings in
:mod:`kete_socketio.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
