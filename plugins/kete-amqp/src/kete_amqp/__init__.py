"""AMQP for kete: the ``amqp-0.9.1`` sink (:mod:`kete_amqp.amqp091`, on aiormq, publisher confirms) and the
``amqp-1`` sink (:mod:`kete_amqp.amqp1`, AMQP 1.0 on Qpid Proton, dispositions); their settings are in
:mod:`kete_amqp.settings`.

Nothing is imported here, so that the ``kete`` command line stays fast.
"""
