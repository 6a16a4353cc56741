from django.conf import settings
from django.contrib import auth
from django.http import HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect
from django.views.generic import View
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ticketing.auth.models import KeycloakIdentity
from ticketing.auth.oidc import keycloak_logout_url
from ticketing.auth.permissions import is_organizer
from ticketing.auth.services import realm_roles


class MeView(APIView):
    """``GET /api/v1/me/``: who the caller is and which platform roles they hold."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "id": serializers.IntegerField(),
                "username": serializers.CharField(),
                "email": serializers.CharField(),
                "name": serializers.CharField(),
                "first_name": serializers.CharField(),
                "last_name": serializers.CharField(),
                "roles": serializers.ListField(child=serializers.CharField()),
                "is_staff": serializers.BooleanField(),
                "is_superuser": serializers.BooleanField(),
                "is_organizer": serializers.BooleanField(),
            },
        )
    )
    def get(self, request):
        user = request.user
        if isinstance(request.auth, dict):
            roles = realm_roles(request.auth)
        else:
            identity = KeycloakIdentity.objects.filter(user=user).first()
            roles = identity.roles if identity else []
        return Response(
            {
                "id": user.pk,
                "username": user.get_username(),
                "email": user.email,
                "name": user.get_full_name(),
                "first_name": user.first_name,
                "last_name": user.last_name,
                "roles": roles,
                "is_staff": user.is_staff,
                "is_superuser": user.is_superuser,
                "is_organizer": is_organizer(user),
            }
        )


@method_decorator(csrf_protect, name="dispatch")
class LogoutView(View):
    """POST: log out of Django and end the Keycloak session (RP-initiated logout), then come
    back to ``next_page``. Mounted on the admin's logout URL so the admin's "Log out" button
    ends the Keycloak session too."""

    http_method_names = ["post", "options"]
    next_page = None

    def post(self, request):
        target = resolve_url(self.next_page or settings.LOGOUT_REDIRECT_URL)
        url = target
        if request.user.is_authenticated:
            url = keycloak_logout_url(request, post_logout_redirect=target)
            auth.logout(request)
        return HttpResponseRedirect(url)
