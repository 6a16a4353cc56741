"""Django users from Keycloak claims: the one place that creates, updates and syncs roles.

Both entry points use :func:`sync_user_from_claims`: the API's bearer-token authentication (claims
of a validated access token) and the browser login (claims of the validated ID and access
tokens). ``sub`` is the stable key; username, email, names and realm roles follow Keycloak.

Realm roles map to Django as follows:

- ``organizer``: ``is_staff`` and member of the ``Organizers`` group, which holds the admin
  permissions on the ticketing and seat-map models and read access to bookings;
- ``admin``: ``is_superuser`` and ``is_staff``;
- ``customer`` (everyone's default role): nothing beyond an active account.

A role removed in Keycloak is removed here at the next token or login.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction

from ticketing.auth.models import KeycloakIdentity

logger = logging.getLogger(__name__)

ROLE_CUSTOMER = "customer"
ROLE_ORGANIZER = "organizer"
ROLE_ADMIN = "admin"
PLATFORM_ROLES = (ROLE_CUSTOMER, ROLE_ORGANIZER, ROLE_ADMIN)

# Admin permissions of the Organizers group: every permission of these apps' models ...
ORGANIZER_FULL_APPS = ("ticketing", "seatmaps")
# ... and view-only on these (bookings and tickets change only through the registration flow).
ORGANIZER_VIEW_APPS = ("registration_worker",)


class ClaimsError(ValueError):
    """The claims cannot describe a user (no ``sub``)."""


def organizers_group_name() -> str:
    return settings.KEYCLOAK_ORGANIZER_GROUP


def realm_roles(claims: dict[str, Any]) -> list[str]:
    """The platform's realm roles found in the claims (``realm_access.roles``), sorted."""
    realm_access = claims.get("realm_access") or {}
    roles = realm_access.get("roles") if isinstance(realm_access, dict) else None
    if not isinstance(roles, list):
        return []
    return sorted({role for role in roles if role in PLATFORM_ROLES})


def organizers_group(*, sync_permissions: bool = False) -> Group:
    """The Organizers group; its permissions are set when it is created or when asked to."""
    group, created = Group.objects.get_or_create(name=organizers_group_name())
    if created or sync_permissions:
        full = Permission.objects.filter(content_type__app_label__in=ORGANIZER_FULL_APPS)
        view = Permission.objects.filter(
            content_type__app_label__in=ORGANIZER_VIEW_APPS, codename__startswith="view_"
        )
        group.permissions.set(list(full) + list(view))
    return group


def on_post_migrate(sender, app_config=None, using="default", **kwargs):
    """Keep the Organizers group's permissions in step with the models after each migrate."""
    app_config = app_config or sender
    if getattr(app_config, "label", None) not in ORGANIZER_FULL_APPS + ORGANIZER_VIEW_APPS:
        return
    # The auth app's own post_migrate handler may not have run for this app yet.
    from django.contrib.auth.management import create_permissions

    create_permissions(app_config, verbosity=0, using=using)
    if using == "default":
        organizers_group(sync_permissions=True)


def _profile(claims: dict[str, Any]) -> dict[str, str]:
    user_model = get_user_model()
    max_username = user_model._meta.get_field(user_model.USERNAME_FIELD).max_length or 150
    sub = claims["sub"]
    username = str(claims.get("preferred_username") or claims.get("email") or sub)
    return {
        "username": username[:max_username],
        "email": str(claims.get("email") or ""),
        "first_name": str(claims.get("given_name") or "")[:150],
        "last_name": str(claims.get("family_name") or "")[:150],
    }


def _digest(profile: dict[str, str], roles: list[str]) -> str:
    blob = json.dumps({"profile": profile, "roles": roles}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _free_username(username: str, sub: str, user_id: int | None) -> str:
    """``username`` if no other user has it, else a variant tagged with the ``sub``."""
    user_model = get_user_model()
    taken = user_model.objects.filter(**{user_model.USERNAME_FIELD: username})
    if user_id is not None:
        taken = taken.exclude(pk=user_id)
    if not taken.exists():
        return username
    return f"{username[:140]}#{sub[:8]}"


def sync_user_from_claims(claims: dict[str, Any]):
    """Create or update the Django user for these (already validated) Keycloak claims.

    Returns the user. Cheap when nothing changed since the last call: one query, no write.
    """
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise ClaimsError("the claims carry no sub")
    profile = _profile(claims)
    roles = realm_roles(claims)
    digest = _digest(profile, roles)

    identity = KeycloakIdentity.objects.select_related("user").filter(sub=sub).first()
    if identity is not None and identity.claims_digest == digest:
        return identity.user

    try:
        with transaction.atomic():
            return _write(sub, profile, roles, digest)
    except IntegrityError:
        # Two first requests of the same new user raced; the other one created it.
        with transaction.atomic():
            return _write(sub, profile, roles, digest)


def _write(sub: str, profile: dict[str, str], roles: list[str], digest: str):
    user_model = get_user_model()
    identity = KeycloakIdentity.objects.select_for_update().select_related("user")
    identity = identity.filter(sub=sub).first()
    if identity is None:
        username = _free_username(profile["username"], sub, None)
        user = user_model(**{**profile, "username": username})
        user.set_unusable_password()  # the password lives in Keycloak only
        user.save()
        identity = KeycloakIdentity.objects.create(user=user, sub=sub)
        logger.info("created user %s for Keycloak subject %s", user.pk, sub)
    else:
        user = identity.user
        for field, value in profile.items():
            if field == "username":
                value = _free_username(value, sub, user.pk)
            setattr(user, field, value)

    is_admin = ROLE_ADMIN in roles
    is_organizer = ROLE_ORGANIZER in roles
    user.is_superuser = is_admin
    user.is_staff = is_admin or is_organizer
    user.save()

    group = organizers_group()
    if is_organizer:
        user.groups.add(group)
    else:
        user.groups.remove(group)

    identity.roles = roles
    identity.claims_digest = digest
    identity.save(update_fields=["roles", "claims_digest", "synced_at"])
    return user
