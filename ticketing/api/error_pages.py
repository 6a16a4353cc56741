"""Django's error views (``handler400`` ... ``handler500``): JSON under ``/api/``, HTML elsewhere.

DRF formats the errors its views raise; these cover what happens before a view runs (a path
that does not match, a path converter that refuses an id, an oversized upload) or outside DRF.
"""

import sys

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.views import defaults

from ticketing.api.errors import as_ticketing_error, ticketing_error_body

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def json_error(status: int, code: str, message: str, details=None) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message, "details": details}}, status=status
    )


def bad_request(request, exception=None):
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return json_error(413, "request_too_large", "The request body is too large.")
    return json_error(400, "bad_request", "The request is not valid.")


def permission_denied(request, exception=None):
    if not _is_api(request):
        return defaults.permission_denied(request, exception)
    return json_error(403, "permission_denied", "You do not have permission to do this.")


def page_not_found(request, exception=None):
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    return json_error(404, "not_found", "No such resource.")


OUTAGE_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Temporarily unavailable</title>"
    "<h1>Temporarily unavailable</h1><p>Please try again in a few seconds.</p></html>"
)


def _outage(request, exc) -> HttpResponse | None:
    """A 503 with ``Retry-After`` when ``exc`` is a dependency outage (errors.py decides)."""
    business = as_ticketing_error(exc) if exc is not None else None
    if business is None or business.http_status != 503:
        return None
    body, headers = ticketing_error_body(business)
    if _is_api(request):
        response = JsonResponse(body, status=503, headers=headers)
    else:
        response = HttpResponse(OUTAGE_PAGE, status=503, headers=headers)
    # as_ticketing_error logged a warning; Django would add an ERROR with the traceback.
    response._has_been_logged = True
    return response


def server_error(request):
    # Django calls handler500 inside its ``except`` block: the exception is still current.
    outage = _outage(request, sys.exception())
    if outage is not None:
        return outage
    if not _is_api(request):
        return defaults.server_error(request)
    return json_error(500, "server_error", "An unexpected error occurred.")
