"""AWS for kete: the ``aws-sqs``, ``aws-sns``, ``aws-kinesis`` and ``aws-eventbridge`` sinks
(:mod:`kete_aws.sqs`, :mod:`kete_aws.sns`, :mod:`kete_aws.kinesis`, :mod:`kete_aws.eventbridge`),
sharing their settings (:mod:`kete_aws.settings`), credentials (:mod:`kete_aws.credentials`) and
batching (:mod:`kete_aws.batching`).

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
