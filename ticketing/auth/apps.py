from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TicketingAuthConfig(AppConfig):
    name = "ticketing.auth"
    label = "ticketing_auth"
    verbose_name = "Keycloak login"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from ticketing.auth import schema, services  # noqa: F401 (schema registers itself)

        post_migrate.connect(
            services.on_post_migrate, dispatch_uid="ticketing_auth.sync_organizers_group"
        )
