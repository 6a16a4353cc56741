from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def keycloak_enabled() -> bool:
    """Whether login goes through Keycloak (``KEYCLOAK_URL`` is set)."""
    return bool(getattr(settings, "KEYCLOAK_ENABLED", False))
