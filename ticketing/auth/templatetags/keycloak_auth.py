from django import template
from django.conf import settings

from ticketing.auth import backends

register = template.Library()


@register.simple_tag
def keycloak_enabled() -> bool:
    """Whether login goes through Keycloak (``KEYCLOAK_URL`` is set)."""
    return settings.KEYCLOAK_ENABLED


@register.simple_tag
def local_login_allowed() -> bool:
    """Whether the admin shows its username/password form (ticketing/auth/backends.py)."""
    return backends.local_login_allowed()
