"""Google Cloud for kete: the ``gcp-pubsub`` sink (:mod:`kete_gcp.pubsub`), batched publishes to the
Pub/Sub REST API, and the ``gcp-cloud-tasks`` sink (:mod:`kete_gcp.cloudtasks`), one task per event over
gRPC, both with KETE's service-account and application-default credentials
(:mod:`kete_gcp.credentials`); the settings are in :mod:`kete_gcp.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
