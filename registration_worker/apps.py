from django.apps import AppConfig


class RegistrationWorkerConfig(AppConfig):
    name = "registration_worker"
    verbose_name = "Bookings"
