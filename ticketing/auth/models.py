from django.conf import settings
from django.db import models


class KeycloakIdentity(models.Model):
    """Links a Django user to a Keycloak account. ``sub`` is the stable key: usernames and
    emails may change in Keycloak, ``sub`` never does."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="keycloak_identity"
    )
    sub = models.CharField(max_length=255, unique=True)
    roles = models.JSONField(default=list, blank=True)
    claims_digest = models.CharField(max_length=64, blank=True, default="")
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Keycloak identity"
        verbose_name_plural = "Keycloak identities"

    def __str__(self):
        return f"{self.sub} -> user {self.user_id}"
