"""The API's single error format: ``{"error": {"code", "message", "details"}}``."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from shared.exceptions import TicketingError

_CODES = {
    status.HTTP_400_BAD_REQUEST: "bad_request",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "rate_limited",
}


def error_response(http_status, code, message, details=None, headers=None):
    return Response(
        {"error": {"code": code, "message": message, "details": details}},
        status=http_status,
        headers=headers,
    )


def exception_handler(exc, context):
    if isinstance(exc, TicketingError):
        return error_response(exc.http_status, exc.code, exc.message, exc.details)
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
    return response
