"""OpenAPI description of the bearer authentication (imported by the app's ``ready``)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class KeycloakJWTScheme(OpenApiAuthenticationExtension):
    target_class = "ticketing.auth.authentication.KeycloakJWTAuthentication"
    name = "keycloakBearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Keycloak access token of the realm, audience ticketing-api.",
        }
