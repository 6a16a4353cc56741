"""The API's single error format: ``{"error": {"code", "message", "details"}}``."""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404
from kombu.exceptions import OperationalError as BrokerError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from shared.exceptions import DependencyUnavailable, TicketingError
from shared.redis_clients import REDIS_OUTAGE_ERRORS
from shared.transient import drop_dead_database_connections
from ticketing.auth.tokens import KeysUnavailable

log = logging.getLogger(__name__)

# How long clients should wait after a 503 before they try again.
RETRY_AFTER_SECONDS = 5
# Outages that may escape a service: a 503 to retry, never a 500. Redis down, restarting or
# loading its data (BusyLoadingError is a ConnectionError), RabbitMQ, PostgreSQL restarting or
# a pooled connection it closed, Keycloak's signing keys out of reach. The DRF handler below,
# the hot hold path and Django's handler500 (``error_pages.server_error``: middleware, pages)
# all ask ``as_ticketing_error``.
DEPENDENCY_ERRORS = (
    *REDIS_OUTAGE_ERRORS,  # incl. a Redis Cluster slot moving during a failover
    BrokerError,
    DatabaseOperationalError,
    DatabaseInterfaceError,
    KeysUnavailable,
)

_CODES = {
    status.HTTP_400_BAD_REQUEST: "bad_request",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "request_too_large",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "rate_limited",
    status.HTTP_503_SERVICE_UNAVAILABLE: "dependency_unavailable",
}


def error_response(http_status, code, message, details=None, headers=None):
    return Response(
        {"error": {"code": code, "message": message, "details": details}},
        status=http_status,
        headers=headers,
    )


def as_ticketing_error(exc: Exception) -> TicketingError | None:
    """The business error ``exc`` answers as, outages included; None for anything else."""
    if isinstance(exc, DEPENDENCY_ERRORS):
        log.warning("dependency unavailable: %s: %s", type(exc).__name__, exc)
        if isinstance(exc, DatabaseOperationalError | DatabaseInterfaceError):
            drop_dead_database_connections()  # so the buyer's retry meets live connections
        return DependencyUnavailable("A service the API depends on is unavailable; try again.")
    return exc if isinstance(exc, TicketingError) else None


def ticketing_error_body(exc: TicketingError) -> tuple[dict, dict]:
    """The JSON body and headers of a business error (``Retry-After`` when it has one)."""
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is None and exc.http_status == status.HTTP_503_SERVICE_UNAVAILABLE:
        retry_after = RETRY_AFTER_SECONDS
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}, headers


def exception_handler(exc, context):
    business = as_ticketing_error(exc)
    if business is not None:
        body, headers = ticketing_error_body(business)
        return Response(body, status=business.http_status, headers=headers)
    if isinstance(exc, RequestDataTooBig):
        return error_response(413, "request_too_large", "The request body is too large.")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        code, message, details = "validation_error", "The request is not valid.", response.data
    elif isinstance(exc, exceptions.ParseError):
        code, message, details = "malformed_request", str(exc.detail), None
    else:
        code = _CODES.get(response.status_code, "error")
        detail = getattr(exc, "detail", None)
        message, details = (str(detail) if detail else code.replace("_", " ")), None
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            details = {"retry_after_seconds": int(exc.wait)}
    response.data = {"error": {"code": code, "message": message, "details": details}}
    return _with_retry_after(response)


def _with_retry_after(response):
    if response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        response.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    return response
