from django.contrib import admin

from ticketing.auth.models import KeycloakIdentity


@admin.register(KeycloakIdentity)
class KeycloakIdentityAdmin(admin.ModelAdmin):
    """Read-only: identities are written by the Keycloak login only."""

    list_display = ("user", "sub", "roles", "synced_at")
    search_fields = ("sub", "user__username", "user__email")
    readonly_fields = ("user", "sub", "roles", "claims_digest", "synced_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
