"""Addresses with holes: ``kete check`` warns about a route whose destination address (URL, topic,
path, key) uses a variable that some events the route can take have no value for. Such events fail
on that route (the template renders a :class:`~kete_core.errors.RenderError`) and are dead-lettered;
the warning says so before the first one does.

Only admin events have ``resourceType`` and ``operationType``, so a route that can take a user
event (its event matchers accept one of Keycloak's user event types) and names its address with
those variables is warned about.
"""

from __future__ import annotations

from kete_core.application import Application
from kete_core.builtins.kete_renderer import ADMIN_ONLY_FIELDS
from kete_core.contracts import SinkContext
from kete_core.display import redact
from kete_core.errors import ConfigWarning

USER_EVENT_TYPES = frozenset(
    """
    AUTHREQID_TO_TOKEN AUTHREQID_TO_TOKEN_ERROR CLIENT_DELETE CLIENT_DELETE_ERROR CLIENT_INFO CLIENT_INFO_ERROR
    CLIENT_INITIATED_ACCOUNT_LINKING CLIENT_INITIATED_ACCOUNT_LINKING_ERROR CLIENT_LOGIN CLIENT_LOGIN_ERROR
    CLIENT_REGISTER CLIENT_REGISTER_ERROR CLIENT_UPDATE CLIENT_UPDATE_ERROR CODE_TO_TOKEN CODE_TO_TOKEN_ERROR
    CUSTOM_REQUIRED_ACTION CUSTOM_REQUIRED_ACTION_ERROR DELETE_ACCOUNT DELETE_ACCOUNT_ERROR DELETE_CREDENTIAL
    DELETE_CREDENTIAL_ERROR EXECUTE_ACTIONS EXECUTE_ACTIONS_ERROR EXECUTE_ACTION_TOKEN EXECUTE_ACTION_TOKEN_ERROR
    FEDERATED_IDENTITY_LINK FEDERATED_IDENTITY_LINK_ERROR FEDERATED_IDENTITY_OVERRIDE_LINK
    FEDERATED_IDENTITY_OVERRIDE_LINK_ERROR GRANT_CONSENT GRANT_CONSENT_ERROR IDENTITY_PROVIDER_FIRST_LOGIN
    IDENTITY_PROVIDER_FIRST_LOGIN_ERROR IDENTITY_PROVIDER_LINK_ACCOUNT IDENTITY_PROVIDER_LINK_ACCOUNT_ERROR
    IDENTITY_PROVIDER_LOGIN IDENTITY_PROVIDER_LOGIN_ERROR IDENTITY_PROVIDER_POST_LOGIN
    IDENTITY_PROVIDER_POST_LOGIN_ERROR IDENTITY_PROVIDER_RESPONSE IDENTITY_PROVIDER_RESPONSE_ERROR
    IDENTITY_PROVIDER_RETRIEVE_TOKEN IDENTITY_PROVIDER_RETRIEVE_TOKEN_ERROR IMPERSONATE IMPERSONATE_ERROR
    INTROSPECT_TOKEN INTROSPECT_TOKEN_ERROR INVALID_SIGNATURE INVALID_SIGNATURE_ERROR INVITE_ORG INVITE_ORG_ERROR
    LOGIN LOGIN_ERROR LOGOUT LOGOUT_ERROR OAUTH2_DEVICE_AUTH OAUTH2_DEVICE_AUTH_ERROR OAUTH2_DEVICE_CODE_TO_TOKEN
    OAUTH2_DEVICE_CODE_TO_TOKEN_ERROR OAUTH2_DEVICE_VERIFY_USER_CODE OAUTH2_DEVICE_VERIFY_USER_CODE_ERROR
    OAUTH2_EXTENSION_GRANT OAUTH2_EXTENSION_GRANT_ERROR PERMISSION_TOKEN PERMISSION_TOKEN_ERROR
    PUSHED_AUTHORIZATION_REQUEST PUSHED_AUTHORIZATION_REQUEST_ERROR REFRESH_TOKEN REFRESH_TOKEN_ERROR REGISTER
    REGISTER_ERROR REGISTER_NODE REGISTER_NODE_ERROR REMOVE_CREDENTIAL REMOVE_CREDENTIAL_ERROR
    REMOVE_FEDERATED_IDENTITY REMOVE_FEDERATED_IDENTITY_ERROR REMOVE_TOTP REMOVE_TOTP_ERROR RESET_PASSWORD
    RESET_PASSWORD_ERROR RESTART_AUTHENTICATION RESTART_AUTHENTICATION_ERROR REVOKE_GRANT REVOKE_GRANT_ERROR
    SEND_IDENTITY_PROVIDER_LINK SEND_IDENTITY_PROVIDER_LINK_ERROR SEND_RESET_PASSWORD SEND_RESET_PASSWORD_ERROR
    SEND_VERIFY_EMAIL SEND_VERIFY_EMAIL_ERROR TOKEN_EXCHANGE TOKEN_EXCHANGE_ERROR UNREGISTER_CODE
    UNREGISTER_CODE_ERROR UNREGISTER_NODE UNREGISTER_NODE_ERROR UPDATE_CONSENT UPDATE_CONSENT_ERROR
    UPDATE_CREDENTIAL UPDATE_CREDENTIAL_ERROR UPDATE_EMAIL UPDATE_EMAIL_ERROR UPDATE_PASSWORD UPDATE_PASSWORD_ERROR
    UPDATE_PROFILE UPDATE_PROFILE_ERROR UPDATE_TOTP UPDATE_TOTP_ERROR USER_DISABLED_BY_PERMANENT_LOCKOUT
    USER_DISABLED_BY_PERMANENT_LOCKOUT_ERROR USER_DISABLED_BY_TEMPORARY_LOCKOUT
    USER_DISABLED_BY_TEMPORARY_LOCKOUT_ERROR USER_INFO_REQUEST USER_INFO_REQUEST_ERROR USER_SESSION_DELETED
    USER_SESSION_DELETED_ERROR VALIDATE_ACCESS_TOKEN VALIDATE_ACCESS_TOKEN_ERROR VERIFY_EMAIL VERIFY_EMAIL_ERROR
    VERIFY_PROFILE VERIFY_PROFILE_ERROR
    """.split()  # noqa: SIM905  (a word list reads better than 124 quoted names)
)
"""Keycloak's user event types (``org.keycloak.events.EventType``)."""


def address_warnings(app: Application) -> list[ConfigWarning]:
    """A warning for each address template of *app*'s routes that uses admin-only variables while
    the route can take user events."""
    warnings = []
    for route in app.routes:
        context = getattr(route.sink, "context", None)
        if not isinstance(context, SinkContext):  # a sink that does not keep its context
            continue
        addresses = context.addresses
        admin_only = {
            setting: sorted(name for name in template.variables if name.startswith(ADMIN_ONLY_FIELDS))
            for setting, template in addresses.items()
        }
        admin_only = {setting: names for setting, names in admin_only.items() if names}
        if not admin_only:
            continue
        user_types = sorted(name for name in USER_EVENT_TYPES if route.events.accepts(name))
        if not user_types:
            continue
        examples = ", ".join(user_types[:3]) + (", ..." if len(user_types) > 3 else "")
        for setting, names in admin_only.items():
            variables = ", ".join(f"${{{name}}}" for name in names)
            warnings.append(
                ConfigWarning(
                    f"{variables} in {redact(addresses[setting].source)!r} has no value for user events, which this "
                    f"route can take ({examples}): they will fail on this route and be dead-lettered",
                    path=f"{context.path}.{setting}",
                    hint="keep user events out with event-matchers (e.g. 'glob:*_CREATE'), or use variables every "
                    "event has (realm, eventType, kind, result)",
                )
            )
    return warnings
