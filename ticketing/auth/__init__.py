"""Keycloak login: bearer-token API authentication, OIDC browser login and role sync."""
