"""A file sink for kete: ``destination.kind = "file"`` (:mod:`kete_file.sink`) writes one serialized
event per line to a templated path, with rotation; its settings are in :mod:`kete_file.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
