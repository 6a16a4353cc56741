"""``GET /api/v1/``: where things are, for a client (or a person) arriving at the API's address."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class ApiRootView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []  # nothing here depends on who asks

    @extend_schema(responses={200: OpenApiResponse(description="Links to the API's parts")})
    def get(self, request):
        def link(name, *args):
            return request.build_absolute_uri(reverse(name, args=args))

        auth = {
            "scheme": "Authorization: Bearer <access token>",
            "browser": "session cookie after logging in on the site",
        }
        if settings.KEYCLOAK_ENABLED:
            issuer = settings.KEYCLOAK_ISSUER
            auth.update(
                issuer=issuer,
                openid_configuration=f"{issuer}/.well-known/openid-configuration",
                login=link("oidc_authentication_init"),
            )
        return Response(
            {
                "name": settings.SPECTACULAR_SETTINGS["TITLE"],
                "version": "v1",
                "links": {
                    "events": link("event-list"),
                    "bookings": link("booking-list"),
                    "me": link("me"),
                    "schema": link("schema"),
                    "docs": link("swagger-ui"),
                    "redoc": link("redoc"),
                    "site": link("event-page-list"),
                },
                "auth": auth,
            }
        )
