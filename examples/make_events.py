"""Generate ``examples/events.jsonl``: a deterministic sample of realistic Keycloak events.

Run ``python examples/make_events.py > /dev/null`` to (re)write ``events.jsonl`` next to this file.
The output is one compact JSON object per line, ``time`` strictly increasing, ids from ``uuid5``
and a fixed random seed, so every run writes the same bytes. It contains:

- every user event type of the seed documents (``USER_EVENT_TYPES``) as a success event and as its
  ``_ERROR`` twin, plus a few custom user event types (``CUSTOM_USER_EVENT_TYPES``) in both forms;
- an admin event for every resource type (``ADMIN_RESOURCE_TYPES``) with every operation type
  (``ADMIN_OPERATION_TYPES``), a few of them failed, plus a custom resource type
  (``CUSTOM_ADMIN_RESOURCE_TYPES``);
- extra production-like volume: login sessions (``LOGIN`` → ``CODE_TO_TOKEN`` → ``REFRESH_TOKEN``…
  → ``LOGOUT``), failed logins and user administration.

Most lines have the shape of Keycloak's Admin REST API (``EventRepresentation`` and
``AdminEventRepresentation``: absent fields omitted, only ``realmId``, admin ``authDetails.clientId``
a client UUID). About one line in ten has the shape the original KETE's JSON serializer writes:
the same fields plus ``realmName`` (and ``authDetails.realmName``, ``resourceTypeAsString``), with
explicit ``null`` for absent fields.

Raw events name their realm only by id, so the script prints the realm id → name mapping on
standard output as TOML, ready for a file source's ``realm_names`` table.
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from pathlib import Path
from typing import Any, NamedTuple

NAMESPACE = uuid.UUID("6b1f3c2e-5d0a-4c7e-9a51-0e2d8f4b7c19")
"""Fixed namespace of every uuid5 in the sample."""


def uid(*parts: object) -> str:
    """A stable UUID for a name made of ``parts``."""
    return str(uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts)))


REALM_NAMES = ("master", "acme", "acme-staging", "partner_portal")
REALM_IDS: dict[str, str] = {name: uid("realm", name) for name in REALM_NAMES}
"""Realm name → realm id (the id is what raw events carry in ``realmId``)."""

# Every user event type named in either seed document (vendor typos IDNETITY_* fixed), base names.
USER_EVENT_TYPES: tuple[str, ...] = (
    "LOGIN", "LOGOUT", "CODE_TO_TOKEN", "REFRESH_TOKEN", "INTROSPECT_TOKEN", "VALIDATE_ACCESS_TOKEN",
    "REVOKE_GRANT", "REGISTER", "VERIFY_EMAIL", "SEND_VERIFY_EMAIL", "UPDATE_EMAIL", "UPDATE_PASSWORD",
    "UPDATE_PROFILE", "UPDATE_TOTP", "REMOVE_TOTP", "SEND_RESET_PASSWORD", "RESET_PASSWORD", "VERIFY_PROFILE",
    "UPDATE_CONSENT", "GRANT_CONSENT", "FEDERATED_IDENTITY_LINK", "REMOVE_FEDERATED_IDENTITY",
    "IDENTITY_PROVIDER_LOGIN", "IDENTITY_PROVIDER_FIRST_LOGIN", "IDENTITY_PROVIDER_POST_LOGIN",
    "IDENTITY_PROVIDER_RESPONSE", "IDENTITY_PROVIDER_RETRIEVE_TOKEN", "IDENTITY_PROVIDER_LINK_ACCOUNT",
    "SEND_IDENTITY_PROVIDER_LINK", "FEDERATED_IDENTITY_OVERRIDE_LINK", "CLIENT_LOGIN", "CLIENT_REGISTER",
    "CLIENT_UPDATE", "CLIENT_DELETE", "CLIENT_INFO", "CLIENT_INITIATED_ACCOUNT_LINKING", "DELETE_ACCOUNT",
    "DELETE_CREDENTIAL", "UPDATE_CREDENTIAL", "REMOVE_CREDENTIAL", "CUSTOM_REQUIRED_ACTION", "EXECUTE_ACTIONS",
    "EXECUTE_ACTION_TOKEN", "PERMISSION_TOKEN", "OAUTH2_DEVICE_AUTH", "OAUTH2_DEVICE_VERIFY_USER_CODE",
    "OAUTH2_DEVICE_CODE_TO_TOKEN", "OAUTH2_EXTENSION_GRANT", "AUTHREQID_TO_TOKEN", "PUSHED_AUTHORIZATION_REQUEST",
    "IMPERSONATE", "TOKEN_EXCHANGE", "USER_INFO_REQUEST", "USER_DISABLED_BY_PERMANENT_LOCKOUT",
    "USER_DISABLED_BY_TEMPORARY_LOCKOUT", "INVALID_SIGNATURE", "RESTART_AUTHENTICATION", "USER_SESSION_DELETED",
    "REGISTER_NODE", "UNREGISTER_NODE", "UNREGISTER_CODE", "INVITE_ORG",
)  # fmt: skip

# User event types that are not in Keycloak's EventType enum (emitted by extensions).
CUSTOM_USER_EVENT_TYPES: tuple[str, ...] = ("CUSTOM_AUDIT", "ORG_MEMBER_JOINED", "DEVICE_TRUSTED")

# Admin event resource types of the KETE seed document.
ADMIN_RESOURCE_TYPES: tuple[str, ...] = (
    "REALM", "REALM_ROLE", "REALM_ROLE_MAPPING", "REALM_SCOPE_MAPPING",
    "CLIENT", "CLIENT_ROLE", "CLIENT_ROLE_MAPPING", "CLIENT_SCOPE", "CLIENT_SCOPE_MAPPING",
    "CLIENT_INITIAL_ACCESS_MODEL",
    "USER", "USER_FEDERATION_PROVIDER", "USER_FEDERATION_MAPPER",
    "GROUP", "GROUP_MEMBERSHIP",
    "IDENTITY_PROVIDER", "IDENTITY_PROVIDER_MAPPER",
    "AUTH_FLOW", "AUTH_EXECUTION_FLOW", "AUTH_EXECUTION", "AUTHENTICATOR_CONFIG", "REQUIRED_ACTION",
    "COMPONENT", "PROTOCOL_MAPPER",
    "AUTHORIZATION_RESOURCE_SERVER", "AUTHORIZATION_RESOURCE", "AUTHORIZATION_SCOPE", "AUTHORIZATION_POLICY",
    "CLUSTER_NODE",
)  # fmt: skip

# An admin resource type that is not in Keycloak's ResourceType enum (resourceType is a free string).
CUSTOM_ADMIN_RESOURCE_TYPES: tuple[str, ...] = ("TENANT_SUBSCRIPTION",)

ADMIN_OPERATION_TYPES: tuple[str, ...] = ("CREATE", "UPDATE", "DELETE", "ACTION")

START_TIME = 1767225600000  # 2026-01-01T00:00:00Z in epoch milliseconds
SEED = 20260101
KETE_SHARE = 0.10  # share of lines written in the KETE JSON shape
OUTPUT = Path(__file__).with_name("events.jsonl")

Event = dict[str, Any]


# --------------------------------------------------------------------------------------------------
# The world: realms, clients, users, admins
# --------------------------------------------------------------------------------------------------


class User(NamedTuple):
    """A realm user."""

    id: str
    username: str
    first: str
    last: str
    email: str
    ip: str


class Actor(NamedTuple):
    """Who performs admin operations (``authDetails``)."""

    realm: str
    client_uuid: str
    user_id: str
    ip: str


class Realm(NamedTuple):
    """A realm with its clients (by kind), identity providers and users."""

    name: str
    domain: str
    clients: dict[str, tuple[str, str]]  # kind -> (clientId, redirect_uri)
    idps: tuple[str, ...]
    users: tuple[User, ...]

    @property
    def id(self) -> str:
        return REALM_IDS[self.name]


FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
         "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf")  # fmt: skip
LAST = ("nguyen", "smith", "garcia", "müller", "kowalski", "tanaka", "okafor", "silva", "haddad", "larsen",
        "rossi", "novak", "dubois", "kim", "patel", "walsh")  # fmt: skip
IP_PREFIXES = ("192.0.2.", "198.51.100.", "203.0.113.")


def make_users(rng: random.Random, realm: str, domain: str, count: int) -> tuple[User, ...]:
    users: list[User] = []
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        username = f"{first}.{last}" if n % 3 else f"{first}{n}"
        ip = f"{rng.choice(IP_PREFIXES)}{rng.randint(2, 254)}"
        ascii_last = last.replace("ü", "ue")
        users.append(User(uid("user", realm, n), username, first.title(), last.title(),
                          f"{first}.{ascii_last}@{domain}", ip))  # fmt: skip
    return tuple(users)


def make_realms(rng: random.Random) -> dict[str, Realm]:
    specs: dict[str, tuple[str, dict[str, tuple[str, str]], tuple[str, ...], int]] = {
        "master": ("sso.example.com", {
            "app": ("security-admin-console", "https://sso.example.com/admin/master/console/"),
            "mobile": ("admin-cli", ""),
            "account": ("account-console", "https://sso.example.com/realms/master/account/"),
            "service": ("terraform", ""),
            "device": ("ops-cli", ""),
            "admin": ("admin-cli", ""),
        }, ("github",), 5),
        "acme": ("acme.example.com", {
            "app": ("web-app", "https://app.acme.example.com/callback"),
            "mobile": ("mobile-app", "com.acme.mobile:/oauth2redirect"),
            "account": ("account-console", "https://sso.example.com/realms/acme/account/"),
            "service": ("billing-service", ""),
            "device": ("tv-app", ""),
            "admin": ("admin-cli", ""),
        }, ("google", "github"), 16),
        "acme-staging": ("staging.acme.example.com", {
            "app": ("web-app", "https://app.staging.acme.example.com/callback"),
            "mobile": ("mobile-app", "com.acme.mobile.staging:/oauth2redirect"),
            "account": ("account-console", "https://sso.example.com/realms/acme-staging/account/"),
            "service": ("ci-test-runner", ""),
            "device": ("tv-app", ""),
            "admin": ("admin-cli", ""),
        }, ("google",), 6),
        "partner_portal": ("partners.example.net", {
            "app": ("partner-portal", "https://partners.example.net/auth/callback"),
            "mobile": ("partner-portal", "https://partners.example.net/auth/callback"),
            "account": ("account-console", "https://sso.example.com/realms/partner_portal/account/"),
            "service": ("partner-api", ""),
            "device": ("partner-cli", ""),
            "admin": ("admin-cli", ""),
        }, ("azure-ad", "adfs-saml"), 10),
    }  # fmt: skip
    return {
        name: Realm(name, domain, clients, idps, make_users(rng, name, domain, count))
        for name, (domain, clients, idps, count) in specs.items()
    }


def make_actors(realms: dict[str, Realm]) -> dict[str, Actor]:
    master, acme, partner = realms["master"], realms["acme"], realms["partner_portal"]
    return {
        "master-admin": Actor("master", uid("client", "master", "security-admin-console"), master.users[0].id,
                              "198.51.100.10"),
        "terraform": Actor("master", uid("client", "master", "terraform"), uid("service-account", "terraform"),
                           "203.0.113.40"),
        "acme-admin": Actor("acme", uid("client", "acme", "security-admin-console"), acme.users[1].id,
                            "192.0.2.77"),
        "partner-admin": Actor("partner_portal", uid("client", "partner_portal", "security-admin-console"),
                               partner.users[2].id, "198.51.100.131"),
    }  # fmt: skip


# --------------------------------------------------------------------------------------------------
# User events
# --------------------------------------------------------------------------------------------------

# Detail sets that recur.
AUTH = ("auth_method", "auth_type", "response_type", "redirect_uri", "consent", "code_id", "response_mode", "username")
FLOW = ("auth_method", "redirect_uri", "code_id", "username")
TOKEN = ("token_id", "grant_type", "refresh_token_type", "scope", "refresh_token_id", "code_id",
         "client_auth_method")  # fmt: skip
IDP = ("identity_provider", "identity_provider_identity")
TOKEN_KEYS = {"token_id", "refresh_token_id", "updated_refresh_token_id", "refresh_token_type", "consent",
              "response_type", "response_mode"}  # fmt: skip


class Spec(NamedTuple):
    """How a user event type looks: its client kind, who it names, its details and error codes."""

    client: str
    user: bool
    session: bool
    details: tuple[str, ...]
    errors: tuple[str, ...]
    keep_session_on_error: bool = False


SPECS: dict[str, Spec] = {
    "LOGIN": Spec("app", True, True, AUTH, ("invalid_user_credentials", "user_not_found", "user_disabled")),
    "LOGOUT": Spec("app", True, True, ("redirect_uri",), ("invalid_token", "invalid_redirect_uri"), True),
    "CODE_TO_TOKEN": Spec("app", True, True, TOKEN, ("invalid_code", "expired_code")),
    "REFRESH_TOKEN": Spec("app", True, True, (*TOKEN[:5], "updated_refresh_token_id", "client_auth_method"),
                          ("invalid_token",), True),
    "INTROSPECT_TOKEN": Spec("service", False, False, ("client_auth_method",),
                             ("invalid_client_credentials", "invalid_request")),
    "VALIDATE_ACCESS_TOKEN": Spec("account", True, True, (), ("invalid_token", "user_session_not_found")),
    "REVOKE_GRANT": Spec("account", True, True, ("revoked_client",), ("invalid_client",), True),
    "REGISTER": Spec("app", True, False, ("auth_method", "auth_type", "register_method", "last_name", "redirect_uri",
                                          "first_name", "code_id", "email", "username"),
                     ("email_in_use", "username_in_use", "invalid_registration")),
    "VERIFY_EMAIL": Spec("app", True, False, ("auth_method", "token_id", "action", "redirect_uri", "email"),
                         ("expired_code", "invalid_code")),
    "SEND_VERIFY_EMAIL": Spec("app", True, False, ("auth_method", "redirect_uri", "code_id", "email"),
                              ("email_send_failed",)),
    "UPDATE_EMAIL": Spec("account", True, True, ("context", "previous_email", "updated_email"),
                         ("email_in_use", "invalid_email"), True),
    "UPDATE_PASSWORD": Spec("account", True, True, ("context", "credential_type", "username"),
                            ("password_rejected", "invalid_user_credentials"), True),
    "UPDATE_PROFILE": Spec("account", True, True, ("context", "previous_first_name", "updated_first_name"),
                           ("invalid_input",), True),
    "UPDATE_TOTP": Spec("app", True, False, (*FLOW, "custom_required_action", "credential_type"),
                        ("invalid_totp",)),
    "REMOVE_TOTP": Spec("account", True, True, ("context", "credential_type", "credential_id"),
                        ("credential_not_found",), True),
    "SEND_RESET_PASSWORD": Spec("app", True, False, (*AUTH[:2], "redirect_uri", "code_id", "email", "username"),
                                ("user_not_found", "email_send_failed")),
    "RESET_PASSWORD": Spec("app", True, False, (*FLOW, "action"), ("expired_code", "invalid_code")),
    "VERIFY_PROFILE": Spec("app", True, False, FLOW, ("invalid_input",)),
    "UPDATE_CONSENT": Spec("account", True, True, ("granted_client", "granted_scopes"), ("invalid_client",), True),
    "GRANT_CONSENT": Spec("app", True, False, (*FLOW, "consent", "granted_scopes"), ("rejected_by_user",)),
    "FEDERATED_IDENTITY_LINK": Spec("account", True, True, IDP, ("federated_identity_account_exists",), True),
    "REMOVE_FEDERATED_IDENTITY": Spec("account", True, True, IDP, ("not_allowed",), True),
    "IDENTITY_PROVIDER_LOGIN": Spec("app", False, False, ("identity_provider", "auth_method", "redirect_uri",
                                                          "code_id"), ("identity_provider_login_failure",)),
    "IDENTITY_PROVIDER_FIRST_LOGIN": Spec("app", True, False, (*IDP, *FLOW),
                                          ("federated_identity_account_exists", "invalid_user")),
    "IDENTITY_PROVIDER_POST_LOGIN": Spec("app", True, False, (*IDP, *FLOW), ("identity_provider_error",)),
    "IDENTITY_PROVIDER_RESPONSE": Spec("app", False, False, ("identity_provider", "redirect_uri", "code_id"),
                                       ("identity_provider_error", "invalid_saml_response")),
    "IDENTITY_PROVIDER_RETRIEVE_TOKEN": Spec("app", True, True, ("identity_provider",),
                                             ("not_allowed", "identity_provider_error"), True),
    "IDENTITY_PROVIDER_LINK_ACCOUNT": Spec("app", True, False, (*IDP, *FLOW), ("identity_provider_error",)),
    "SEND_IDENTITY_PROVIDER_LINK": Spec("app", True, False, (*IDP, *FLOW, "email"), ("email_send_failed",)),
    "FEDERATED_IDENTITY_OVERRIDE_LINK": Spec("app", True, False, (*IDP, *FLOW), ("not_allowed",)),
    "CLIENT_LOGIN": Spec("service", True, False, ("grant_type", "scope", "token_id", "client_auth_method",
                                                  "username"), ("invalid_client_credentials", "unauthorized_client")),
    "CLIENT_REGISTER": Spec("dcr", False, False, ("client_registration_policy",),
                            ("invalid_redirect_uri", "not_allowed")),
    "CLIENT_UPDATE": Spec("dcr", False, False, (), ("invalid_token", "invalid_client_metadata")),
    "CLIENT_DELETE": Spec("dcr", False, False, (), ("invalid_token", "client_not_found")),
    "CLIENT_INFO": Spec("dcr", False, False, (), ("invalid_token",)),
    "CLIENT_INITIATED_ACCOUNT_LINKING": Spec("app", True, True, ("identity_provider", "redirect_uri"),
                                             ("not_allowed", "invalid_redirect_uri"), True),
    "DELETE_ACCOUNT": Spec("app", True, True, (*FLOW, "custom_required_action"), ("user_delete_error",), True),
    "DELETE_CREDENTIAL": Spec("account", True, True, ("credential_type", "credential_id", "credential_user_label"),
                              ("credential_not_found",), True),
    "UPDATE_CREDENTIAL": Spec("app", True, False, (*FLOW, "credential_type", "credential_id"),
                              ("invalid_user_credentials",)),
    "REMOVE_CREDENTIAL": Spec("account", True, True, ("credential_type", "credential_id"),
                              ("credential_not_found",), True),
    "CUSTOM_REQUIRED_ACTION": Spec("app", True, False, (*FLOW, "custom_required_action"), ("rejected_by_user",)),
    "EXECUTE_ACTIONS": Spec("admin", True, False, ("email", "redirect_uri", "lifespan"), ("email_send_failed",)),
    "EXECUTE_ACTION_TOKEN": Spec("app", True, False, ("action", "redirect_uri", "token_id"),
                                 ("expired_code", "invalid_code")),
    "PERMISSION_TOKEN": Spec("service", True, True, ("grant_type", "audience", "auth_method"), ("access_denied",)),
    "OAUTH2_DEVICE_AUTH": Spec("device", False, False, ("scope",), ("unauthorized_client", "invalid_request")),
    "OAUTH2_DEVICE_VERIFY_USER_CODE": Spec("device", True, False, ("code_id", "username"),
                                           ("invalid_code", "expired_code")),
    "OAUTH2_DEVICE_CODE_TO_TOKEN": Spec("device", True, True, TOKEN, ("expired_code", "access_denied")),
    "OAUTH2_EXTENSION_GRANT": Spec("service", True, False, ("grant_type", "token_id", "client_auth_method"),
                                   ("invalid_request", "invalid_token")),
    "AUTHREQID_TO_TOKEN": Spec("app", True, True, TOKEN, ("expired_code", "access_denied")),
    "PUSHED_AUTHORIZATION_REQUEST": Spec("app", False, False, ("redirect_uri",),
                                         ("invalid_request", "invalid_redirect_uri")),
    "IMPERSONATE": Spec("admin", True, True, ("impersonator_realm", "impersonator"), ("not_allowed",)),
    "TOKEN_EXCHANGE": Spec("service", True, True, ("subject_token_client_id", "audience", "requested_token_type",
                                                   "token_id", "grant_type", "client_auth_method"),
                           ("not_allowed", "invalid_token")),
    "USER_INFO_REQUEST": Spec("app", True, True, ("auth_method", "username"),
                              ("invalid_token", "user_session_not_found"), True),
    "USER_DISABLED_BY_PERMANENT_LOCKOUT": Spec("app", True, False, ("auth_method", "username", "redirect_uri"),
                                               ("user_disabled",)),
    "USER_DISABLED_BY_TEMPORARY_LOCKOUT": Spec("app", True, False, ("auth_method", "username", "redirect_uri"),
                                               ("user_temporarily_disabled",)),
    "INVALID_SIGNATURE": Spec("service", False, False, ("client_auth_method",), ("invalid_signature",)),
    "RESTART_AUTHENTICATION": Spec("app", False, False, ("auth_method", "redirect_uri", "code_id",
                                                         "restart_after_timeout"), ("expired_code", "invalid_code")),
    "USER_SESSION_DELETED": Spec("app", True, True, ("reason",), ("user_session_not_found",), True),
    "REGISTER_NODE": Spec("service", False, False, ("node_host",), ("invalid_client_credentials",)),
    "UNREGISTER_NODE": Spec("service", False, False, ("node_host",), ("invalid_client_credentials",)),
    "UNREGISTER_CODE": Spec("device", False, False, ("code_id",), ("invalid_code",)),
    "INVITE_ORG": Spec("app", True, False, ("org_id", "email", "username"), ("expired_code", "user_not_found")),
    "CUSTOM_AUDIT": Spec("app", True, True, ("action", "username"), ("not_allowed",), True),
    "ORG_MEMBER_JOINED": Spec("app", True, True, ("org_id", "org_alias", "username"), ("invalid_org",), True),
    "DEVICE_TRUSTED": Spec("mobile", True, True, ("device_id", "device_os", "username"), ("invalid_device",), True),
}  # fmt: skip

NO_USER_ERRORS = {"user_not_found", "email_in_use", "username_in_use", "invalid_registration"}
SCOPES = ("openid profile email", "openid email", "openid profile email offline_access", "openid roles")


class Context(NamedTuple):
    """What a detail value is drawn from."""

    rng: random.Random
    realm: Realm
    user: User
    client_id: str
    redirect: str
    session: str
    type: str


def detail(key: str, ctx: Context) -> str:
    """A realistic value for detail ``key``."""
    rng, user, realm = ctx.rng, ctx.user, ctx.realm
    n = rng.randint(0, 10**6)
    simple = {
        "auth_method": "openid-connect",
        "auth_type": "code",
        "response_type": "code",
        "response_mode": "query",
        "consent": "no_consent_required",
        "redirect_uri": ctx.redirect or realm.clients["app"][1],
        "code_id": ctx.session,
        "username": user.username,
        "email": user.email,
        "first_name": user.first,
        "last_name": user.last,
        "register_method": "form",
        "token_id": uid("token", ctx.session, n),
        "refresh_token_id": uid("refresh", ctx.session, n),
        "updated_refresh_token_id": uid("refresh", ctx.session, n + 1),
        "refresh_token_type": rng.choice(("Refresh", "Refresh", "Offline")),
        "scope": rng.choice(SCOPES),
        "client_auth_method": "client-secret",
        "context": "ACCOUNT",
        "previous_email": user.email.replace("@", ".old@"),
        "updated_email": user.email,
        "previous_first_name": user.first[:3],
        "updated_first_name": user.first,
        "credential_type": rng.choice(("otp", "webauthn", "password")),
        "credential_id": uid("credential", user.id, n % 3),
        "credential_user_label": rng.choice(("YubiKey 5C", "Pixel 8", "Authenticator app")),
        "custom_required_action": rng.choice(("TERMS_AND_CONDITIONS", "CONFIGURE_TOTP", "delete_account")),
        "revoked_client": realm.clients["mobile"][0],
        "granted_client": realm.clients["app"][0],
        "granted_scopes": "profile email",
        "identity_provider": rng.choice(realm.idps),
        "identity_provider_identity": user.email if rng.random() < 0.5 else str(rng.randint(10**7, 10**9)),
        "client_registration_policy": rng.choice(("Trusted Hosts", "Allowed Client Scopes")),
        "lifespan": "43200",
        "audience": rng.choice(("billing-api", "reporting-api", "orders-api")),
        "impersonator_realm": "master",
        "impersonator": "admin",
        "subject_token_client_id": realm.clients["app"][0],
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "restart_after_timeout": "true",
        "reason": rng.choice(("logout_from_admin_console", "session_idle_timeout")),
        "node_host": f"app-{rng.randint(0, 3)}.internal.{realm.domain}",
        "org_id": uid("org", realm.name, n % 3),
        "org_alias": rng.choice(("acme-logistics", "acme-retail", "northwind")),
        "device_id": uid("device", user.id, n % 2),
        "device_os": rng.choice(("iOS 19.2", "Android 16")),
    }
    if key in simple:
        return simple[key]
    if key == "grant_type":
        return {
            "CLIENT_LOGIN": "client_credentials",
            "REFRESH_TOKEN": "refresh_token",
            "TOKEN_EXCHANGE": "urn:ietf:params:oauth:grant-type:token-exchange",
            "PERMISSION_TOKEN": "urn:ietf:params:oauth:grant-type:uma-ticket",
            "OAUTH2_DEVICE_CODE_TO_TOKEN": "urn:ietf:params:oauth:grant-type:device_code",
            "AUTHREQID_TO_TOKEN": "urn:openid:params:grant-type:ciba",
            "OAUTH2_EXTENSION_GRANT": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        }.get(ctx.type, "authorization_code")
    if key == "action":
        return {
            "VERIFY_EMAIL": "verify-email",
            "RESET_PASSWORD": "reset-credentials",
            "CUSTOM_AUDIT": rng.choice(("export_personal_data", "view_consents")),
        }.get(ctx.type, rng.choice(("execute-actions", "verify-email", "reset-credentials")))
    raise KeyError(key)


def user_event(rng: random.Random, realm: Realm, etype: str, *, error: str | None = None,
               user: User | None = None, session: str | None = None) -> Event:  # fmt: skip
    """A user event of type ``etype`` (``_ERROR`` when ``error`` is given) in the raw REST shape."""
    spec = SPECS[etype]
    user = user or rng.choice(realm.users)
    if spec.client == "dcr":
        client_id, redirect = f"dcr-{uid('dcr', realm.name, rng.randint(0, 4))[:8]}", ""
    else:
        client_id, redirect = realm.clients[spec.client]
    if spec.client == "service":
        user = User(uid("service-account", client_id), f"service-account-{client_id}", "", "", "", user.ip)
    session = session or uid("session", realm.name, user.id, rng.randint(0, 10**6))
    ctx = Context(rng, realm, user, client_id, redirect, session, etype)
    keys = spec.details
    if error:
        keys = tuple(key for key in keys if key not in TOKEN_KEYS)
        if etype in {"REFRESH_TOKEN", "CODE_TO_TOKEN", "OAUTH2_DEVICE_CODE_TO_TOKEN", "AUTHREQID_TO_TOKEN"}:
            keys = ("grant_type", "code_id", "reason")[: 2 + (error == "invalid_token")]
    details = {key: detail(key, ctx) for key in keys}
    if error and "reason" in details and etype == "REFRESH_TOKEN":
        details["reason"] = rng.choice(("Token is not active", "Session not active", "Stale token"))
    if etype == "LOGIN" and not error and rng.random() < 0.2:
        details["remember_me"] = "true"

    event: Event = {"type": f"{etype}_ERROR" if error else etype, "realmId": realm.id, "clientId": client_id}
    with_user = spec.user and error not in NO_USER_ERRORS
    if with_user:
        event["userId"] = user.id
    if spec.session and with_user and (not error or spec.keep_session_on_error):
        event["sessionId"] = session
    event["ipAddress"] = user.ip
    if error:
        event["error"] = error
    if details:
        event["details"] = details
    return event


def login_session(rng: random.Random, realm: Realm) -> list[Event]:
    """One user's session: maybe a failed attempt, then login, token, refreshes and maybe logout."""
    user = rng.choice(realm.users)
    session = uid("session", realm.name, user.id, rng.randint(0, 10**9))
    events: list[Event] = []
    if rng.random() < 0.15:
        events.append(user_event(rng, realm, "LOGIN", error="invalid_user_credentials", user=user, session=session))
    events.append(user_event(rng, realm, "LOGIN", user=user, session=session))
    events.append(user_event(rng, realm, "CODE_TO_TOKEN", user=user, session=session))
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        events.append(user_event(rng, realm, "REFRESH_TOKEN", user=user, session=session))
    if rng.random() < 0.05:
        events.append(user_event(rng, realm, "REFRESH_TOKEN", error="invalid_token", user=user, session=session))
    elif rng.random() < 0.6:
        events.append(user_event(rng, realm, "LOGOUT", user=user, session=session))
    return events


# --------------------------------------------------------------------------------------------------
# Admin events
# --------------------------------------------------------------------------------------------------

ADMIN_ERRORS = {
    ("USER", "CREATE"): "User exists with same username",
    ("CLIENT", "CREATE"): "Client already exists",
    ("GROUP", "UPDATE"): "Sibling group named 'engineering' already exists.",
    ("REALM_ROLE_MAPPING", "DELETE"): "Could not find role",
    ("IDENTITY_PROVIDER", "CREATE"): "Identity Provider github already exists",
    ("AUTH_FLOW", "DELETE"): "Cannot delete flow, it is used by a client",
    ("USER", "ACTION"): "Could not find user",
    ("TENANT_SUBSCRIPTION", "UPDATE"): "Seat limit exceeded",
}


def admin_target(rng: random.Random, realm: Realm, rtype: str, op: str) -> tuple[str | None, Any]:
    """(resourcePath, representation) of an admin operation; the path is None where Keycloak sets none."""
    n = rng.randint(0, 10**6)
    user = rng.choice(realm.users)
    client = uid("client", realm.name, rng.choice(("web-app", "mobile-app", "billing-service", "partner-portal")))
    role = rng.choice(("offline_access", "billing-admin", "support-agent", "auditor", "reporting-viewer"))
    role_rep = [{"id": uid("role", realm.name, role), "name": role, "composite": False, "clientRole": False,
                 "containerId": realm.id}]  # fmt: skip
    group = uid("group", realm.name, n % 5)
    idp = rng.choice(realm.idps)
    flow_alias = rng.choice(("browser-with-otp", "first-broker-login-custom", "partner-direct-grant"))
    authz = f"clients/{client}/authz/resource-server"
    match rtype, op:
        case "REALM", "CREATE":
            return "acme-sandbox", {"realm": "acme-sandbox", "enabled": True}
        case "REALM", "UPDATE":
            return None, {"realm": realm.name, "bruteForceProtected": True, "ssoSessionIdleTimeout": 1800}
        case "REALM", "DELETE":
            return "acme-sandbox", None
        case "REALM", _:
            return rng.choice(("logout-all", "clear-realm-cache", "partialImport")), {}
        case "REALM_ROLE", ("CREATE" | "UPDATE" | "DELETE"):
            return f"roles/{role}", {"name": role, "description": f"{role} role", "composite": False}
        case "REALM_ROLE", _:
            return f"roles-by-id/{uid('role', realm.name, role)}/composites", role_rep
        case "REALM_ROLE_MAPPING", _:
            return f"users/{user.id}/role-mappings/realm", role_rep
        case "REALM_SCOPE_MAPPING", _:
            return f"clients/{client}/scope-mappings/realm", role_rep
        case "CLIENT", "ACTION":
            return f"clients/{client}/{rng.choice(('client-secret', 'push-revocation'))}", {"type": "secret"}
        case "CLIENT", _:
            return f"clients/{client}", {
                "clientId": f"reporting-{n % 100}",
                "enabled": True,
                "publicClient": False,
                "redirectUris": [f"https://reports.{realm.domain}/*"],
            }
        case "CLIENT_ROLE", _:
            return f"clients/{client}/roles/{role}", {"name": role, "clientRole": True, "composite": False}
        case "CLIENT_ROLE_MAPPING", _:
            rep = [{**role_rep[0], "clientRole": True, "containerId": client}]
            return f"users/{user.id}/role-mappings/clients/{client}", rep
        case "CLIENT_SCOPE", _:
            return f"client-scopes/{uid('scope', realm.name, n % 4)}", {
                "name": "orders:read",
                "protocol": "openid-connect",
            }
        case "CLIENT_SCOPE_MAPPING", _:
            other = uid("client", realm.name, "account")
            return f"clients/{client}/scope-mappings/clients/{other}", [{"name": "manage-account", "clientRole": True}]
        case "CLIENT_INITIAL_ACCESS_MODEL", _:
            return f"clients-initial-access/{uid('cia', realm.name, n)}", {"expiration": 86400, "count": 5}
        case "USER", "ACTION":
            action = rng.choice(("reset-password", "execute-actions-email", "logout"))
            rep = {"reset-password": {"type": "password", "temporary": True},
                   "execute-actions-email": ["UPDATE_PASSWORD", "VERIFY_EMAIL"], "logout": {}}[action]  # fmt: skip
            return f"users/{user.id}/{action}", rep
        case "USER", _:
            return f"users/{user.id}", {
                "username": user.username,
                "email": user.email,
                "firstName": user.first,
                "lastName": user.last,
                "enabled": True,
                "emailVerified": op == "UPDATE",
            }
        case "USER_FEDERATION_PROVIDER", "ACTION":
            return f"user-storage/{uid('ldap', realm.name)}/sync", {"action": "triggerChangedUsersSync"}
        case "USER_FEDERATION_PROVIDER", _:
            return f"components/{uid('ldap', realm.name)}", {
                "name": "corp-ldap",
                "providerId": "ldap",
                "providerType": "org.keycloak.storage.UserStorageProvider",
            }
        case "USER_FEDERATION_MAPPER", "ACTION":
            path = f"user-storage/{uid('ldap', realm.name)}/mappers/{uid('mapper', n % 3)}/sync"
            return path, {"direction": "fedToKeycloak"}
        case "USER_FEDERATION_MAPPER", _:
            return f"components/{uid('mapper', n % 3)}", {"name": "group-mapper", "providerId": "group-ldap-mapper"}
        case "GROUP", "ACTION":
            return f"groups/{group}/children", {"name": "contractors"}
        case "GROUP", _:
            return f"groups/{group}", {"name": rng.choice(("engineering", "support", "finance")), "path": "/staff"}
        case "GROUP_MEMBERSHIP", _:
            return f"users/{user.id}/groups/{group}", {"id": group, "name": "engineering", "path": "/engineering"}
        case "IDENTITY_PROVIDER", _:
            return f"identity-provider/instances/{idp}", {
                "alias": idp,
                "providerId": idp.split("-")[0],
                "enabled": True,
                "trustEmail": False,
            }
        case "IDENTITY_PROVIDER_MAPPER", _:
            return f"identity-provider/instances/{idp}/mappers/{uid('idp-mapper', n % 4)}", {
                "name": "email-domain-to-group", "identityProviderAlias": idp,
                "identityProviderMapper": "hardcoded-group-idp-mapper"}  # fmt: skip
        case "AUTH_FLOW", "ACTION":
            return f"authentication/flows/{flow_alias}/copy", {"newName": f"{flow_alias}-v2"}
        case "AUTH_FLOW", _:
            return f"authentication/flows/{uid('flow', flow_alias)}", {
                "alias": flow_alias,
                "providerId": "basic-flow",
                "topLevel": True,
                "builtIn": False,
            }
        case "AUTH_EXECUTION_FLOW", _:
            return f"authentication/flows/{flow_alias}/executions/flow", {"alias": "otp-subflow", "type": "basic-flow"}
        case "AUTH_EXECUTION", "ACTION":
            return f"authentication/executions/{uid('exec', n % 6)}/raise-priority", {}
        case "AUTH_EXECUTION", _:
            return f"authentication/executions/{uid('exec', n % 6)}", {
                "requirement": "REQUIRED",
                "providerId": "auth-otp-form",
            }
        case "AUTHENTICATOR_CONFIG", _:
            return f"authentication/config/{uid('authcfg', n % 3)}", {
                "alias": "otp-config",
                "config": {"otpType": "totp"},
            }
        case "REQUIRED_ACTION", "ACTION":
            return "authentication/required-actions/CONFIGURE_TOTP/raise-priority", {}
        case "REQUIRED_ACTION", _:
            return "authentication/required-actions/TERMS_AND_CONDITIONS", {
                "alias": "TERMS_AND_CONDITIONS",
                "enabled": True,
                "defaultAction": False,
            }
        case "COMPONENT", _:
            return f"components/{uid('component', realm.name, n % 4)}", {
                "name": "rsa-generated", "providerId": "rsa-generated",
                "providerType": "org.keycloak.keys.KeyProvider", "config": {"priority": ["100"]}}  # fmt: skip
        case "PROTOCOL_MAPPER", _:
            return f"clients/{client}/protocol-mappers/models/{uid('pm', n % 5)}", {
                "name": "tenant-id", "protocol": "openid-connect", "protocolMapper": "oidc-usermodel-attribute-mapper",
                "config": {"claim.name": "tenant_id", "user.attribute": "tenant"}}  # fmt: skip
        case "AUTHORIZATION_RESOURCE_SERVER", _:
            return authz, {"policyEnforcementMode": "ENFORCING", "decisionStrategy": "UNANIMOUS"}
        case "AUTHORIZATION_RESOURCE", _:
            return f"{authz}/resource/{uid('res', n % 5)}", {
                "name": "invoice",
                "uris": ["/invoices/*"],
                "scopes": [{"name": "invoice:read"}],
            }
        case "AUTHORIZATION_SCOPE", _:
            return f"{authz}/scope/{uid('authz-scope', n % 5)}", {"name": "invoice:write"}
        case "AUTHORIZATION_POLICY", _:
            return f"{authz}/policy/{uid('policy', n % 5)}", {
                "name": "only-billing-admins",
                "type": "role",
                "logic": "POSITIVE",
                "decisionStrategy": "UNANIMOUS",
            }
        case "CLUSTER_NODE", "ACTION":
            return f"clients/{client}/test-nodes-available", {}
        case "CLUSTER_NODE", _:
            return f"clients/{client}/nodes/app-{n % 4}.internal.{realm.domain}", {
                "node": f"app-{n % 4}.internal.{realm.domain}"}  # fmt: skip
        case "TENANT_SUBSCRIPTION", "ACTION":
            return f"tenants/{uid('tenant', n % 3)}/subscription/renew", {"term": "P1Y"}
        case "TENANT_SUBSCRIPTION", _:
            return f"tenants/{uid('tenant', n % 3)}/subscription", {
                "plan": rng.choice(("team", "enterprise")),
                "seats": rng.choice((25, 100, 250)),
            }
    raise ValueError(f"no target for {rtype} {op}")


def admin_event(rng: random.Random, realm: Realm, actor: Actor, rtype: str, op: str,
                error: str | None = None) -> Event:  # fmt: skip
    """An admin event in the raw REST shape."""
    path, rep = admin_target(rng, realm, rtype, op)
    event: Event = {
        "realmId": realm.id,
        "authDetails": {
            "realmId": REALM_IDS[actor.realm],
            "clientId": actor.client_uuid,
            "userId": actor.user_id,
            "ipAddress": actor.ip,
        },
        "operationType": op,
        "resourceType": rtype,
    }
    if path is not None:
        event["resourcePath"] = path
    if op != "DELETE" and rep is not None:
        event["representation"] = json.dumps(rep, separators=(",", ":"), ensure_ascii=False)
    if error:
        event["error"] = error
    return event


def pick_actor(rng: random.Random, actors: dict[str, Actor], realm: Realm) -> Actor:
    local = {"acme": "acme-admin", "partner_portal": "partner-admin"}.get(realm.name)
    choices = ["master-admin", "master-admin", "terraform"] + ([local, local] if local else [])
    return actors[rng.choice(choices)]


# --------------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------------


def to_kete(event: Event, realm_names: dict[str, str]) -> Event:
    """The KETE JSON serializer's shape of a raw event: all keys, ``null`` where absent."""
    if "type" in event:
        keys = ("id", "time", "type", "realmId", "realmName", "clientId", "userId", "sessionId", "ipAddress",
                "error", "details")  # fmt: skip
        extra = {"realmName": realm_names[event["realmId"]]}
    else:
        keys = ("id", "time", "realmId", "realmName", "authDetails", "resourceType", "operationType",
                "resourcePath", "representation", "error", "resourceTypeAsString")  # fmt: skip
        auth = event["authDetails"]
        extra = {
            "realmName": realm_names[event["realmId"]],
            "authDetails": {"realmId": auth["realmId"], "realmName": realm_names[auth["realmId"]],
                            "clientId": auth["clientId"], "userId": auth["userId"], "ipAddress": auth["ipAddress"]},
            "resourceTypeAsString": event["resourceType"],
        }  # fmt: skip
    return {key: extra[key] if key in extra else event.get(key) for key in keys}


def interleave(rng: random.Random, stories: list[list[Event]]) -> list[Event]:
    """Merge stories in a random order that keeps each story's own order."""
    pending = [list(reversed(story)) for story in stories if story]
    merged: list[Event] = []
    while pending:
        weights = [len(story) for story in pending]
        story = rng.choices(pending, weights)[0]
        merged.append(story.pop())
        if not story:
            pending.remove(story)
    return merged


def build(rng: random.Random) -> tuple[list[Event], list[str]]:
    """All events in file order, with ids and times, and the shape of each line (``raw`` or ``kete``)."""
    realms = make_realms(rng)
    actors = make_actors(realms)
    app_realms = [realms["acme"]] * 4 + [realms["acme-staging"], realms["partner_portal"], realms["partner_portal"],
                                         realms["master"]]  # fmt: skip
    stories: list[list[Event]] = []

    # Coverage: every user event type, success and error.
    for etype in (*USER_EVENT_TYPES, *CUSTOM_USER_EVENT_TYPES):
        for error in (None, rng.choice(SPECS[etype].errors)):
            stories.append([user_event(rng, rng.choice(app_realms), etype, error=error)])

    # Coverage: every admin resource type with every operation; master gets most.
    admin_realms = [realms["master"]] * 6 + [realms["acme"]] * 2 + [realms["acme-staging"], realms["partner_portal"]]
    for rtype in (*ADMIN_RESOURCE_TYPES, *CUSTOM_ADMIN_RESOURCE_TYPES):
        for op in ADMIN_OPERATION_TYPES:
            realm = realms["master"] if rtype == "REALM" and op in {"CREATE", "DELETE"} else rng.choice(admin_realms)
            stories.append([admin_event(rng, realm, pick_actor(rng, actors, realm), rtype, op,
                                        ADMIN_ERRORS.get((rtype, op)))])  # fmt: skip

    # Volume: sessions dominate, then failed logins, then user administration.
    volume_realms = [realms["acme"]] * 5 + [realms["partner_portal"]] * 2 + [realms["acme-staging"], realms["master"]]
    for _ in range(70):
        stories.append(login_session(rng, rng.choice(volume_realms)))
    for _ in range(14):
        realm = rng.choice(volume_realms)
        error = rng.choice(("invalid_user_credentials", "invalid_user_credentials", "user_not_found"))
        stories.append([user_event(rng, realm, "LOGIN", error=error)])
    for _ in range(6):
        stories.append([user_event(rng, rng.choice(volume_realms), "CLIENT_LOGIN")])
    admin_volume_realms = [realms["master"]] * 3 + [realms["acme"]] * 2 + [realms["partner_portal"]]
    for _ in range(30):
        realm = rng.choice(admin_volume_realms)
        rtype, op = rng.choice((("USER", "CREATE"), ("USER", "UPDATE"), ("USER", "UPDATE"), ("GROUP_MEMBERSHIP",
                                "CREATE"), ("REALM_ROLE_MAPPING", "CREATE")))  # fmt: skip
        stories.append([admin_event(rng, realm, pick_actor(rng, actors, realm), rtype, op)])

    events: list[Event] = []
    time = START_TIME
    for n, event in enumerate(interleave(rng, stories)):
        time += rng.randint(150, 40_000)
        events.append({"id": uid("event", n), "time": time, **event})
    realm_names = {REALM_IDS[name]: name for name in REALM_NAMES}
    kete = set(rng.sample(range(len(events)), round(len(events) * KETE_SHARE)))
    shapes = ["kete" if n in kete else "raw" for n in range(len(events))]
    return [to_kete(e, realm_names) if s == "kete" else e for e, s in zip(events, shapes, strict=True)], shapes


def main() -> None:
    events, shapes = build(random.Random(SEED))
    with OUTPUT.open("w", encoding="utf-8", newline="\n") as out:
        for event in events:
            out.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n")
    print("# realm id -> realm name, for a file source's realm_names table")
    for name, realm_id in REALM_IDS.items():
        print(f'"{realm_id}" = "{name}"')
    admin = sum(1 for event in events if "operationType" in event)
    print(f"wrote {len(events)} events ({len(events) - admin} user, {admin} admin, {shapes.count('kete')} in the "
          f"KETE shape) to {OUTPUT}", file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()
