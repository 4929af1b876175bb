"""gRPC for kete: the ``grpc`` sink (:mod:`kete_grpc.sink`), one unary call per event with the payload
as raw bytes; its settings are in :mod:`kete_grpc.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
