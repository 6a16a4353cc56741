from django.apps import AppConfig


class SalesConfig(AppConfig):
    """The organizer's read side: sales figures projected from the booking events (CQRS)."""

    name = "sales"
    default_auto_field = "django.db.models.BigAutoField"
