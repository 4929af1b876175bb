"""Keycloak sources for kete: the Admin REST API poller (``keycloak-admin-api``,
:mod:`kete_keycloak.poller`), the event-log follower (``keycloak-log``,
:mod:`kete_keycloak.follower`) and ``kete keycloak enable-events`` (:mod:`kete_keycloak.commands`).

Nothing is imported here, so that the ``kete`` command line, which loads the hook module, stays fast.
"""
