"""The local password door of the admin: open in development, shut beside Keycloak otherwise.

Whatever stays open is guarded by django-axes (a lockout after repeated wrong passwords).
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied


def local_login_allowed() -> bool:
    """Whether a username and password may log in here (rather than through Keycloak only).

    Without Keycloak the local form is the only door, so it stays on.
    """
    return settings.ALLOW_LOCAL_LOGIN or not settings.KEYCLOAK_ENABLED


class LocalLoginGate:
    """Refuses every username/password login while local login is off.

    Listed before ModelBackend: PermissionDenied stops Django from asking later backends, so
    even the right password of a local account gets nowhere. Keycloak's backend is called
    without a password and passes through untouched.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if password is not None and not local_login_allowed():
            raise PermissionDenied("Local password login is off; log in through Keycloak.")
        return None

    # No get_user: the gate never logs anyone in, and without it Django's test client and
    # session lookups skip it for the backends that do.
