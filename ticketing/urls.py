from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from ticketing import health, metrics
from ticketing.api.index import ApiRootView
from ticketing.auth.views import LogoutView, MeView
from ticketing.pages.home import home
from ticketing.pages.views import my_bookings

urlpatterns = [
    # First: the flash-sale endpoints are resolved on every request of the hot path.
    path("api/v1/", include("ticketing.api.urls")),
    path("api/v1/", ApiRootView.as_view(), name="api-root"),
    path("", home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),  # loopback only; nginx denies it
    # Before the admin's own URLs: its "Log out" button also ends the Keycloak session.
    path("admin/logout/", LogoutView.as_view(next_page="admin:login"), name="logout"),
    path("admin/", admin.site.urls),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script from a URL: the CSP forbids inline ones.
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/v1/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="ticketing/redoc.html"),
        name="redoc",
    ),
    path("api/v1/me/", MeView.as_view(), name="me"),
    path("events/", include("ticketing.pages.urls")),
    path("me/bookings/", my_bookings, name="my-bookings"),
    path("api/v1/", include("notifications.urls")),
    path("api/v1/organizer/", include("sales.urls")),
]

# JSON errors under /api/, Django's HTML pages elsewhere (ticketing/api/error_pages.py).
handler400 = "ticketing.api.error_pages.bad_request"
handler403 = "ticketing.api.error_pages.permission_denied"
handler404 = "ticketing.api.error_pages.page_not_found"
handler500 = "ticketing.api.error_pages.server_error"
