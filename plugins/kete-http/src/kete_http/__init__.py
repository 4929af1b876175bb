"""HTTP for kete: the ``http`` sink (webhooks out, :mod:`kete_http.sink`) and the ``http`` source
(webhooks in, :mod:`kete_http.source`); their settings are in :mod:`kete_http.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
