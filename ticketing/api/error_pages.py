"""Django's error views (``handler400`` ... ``handler500``): JSON under ``/api/``, HTML elsewhere.

DRF formats the errors its views raise; these cover what happens before a view runs (a path
that does not match, a path converter that refuses an id, an oversized upload) or outside DRF.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults

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


def server_error(request):
    if not _is_api(request):
        return defaults.server_error(request)
    return json_error(500, "server_error", "An unexpected error occurred.")
