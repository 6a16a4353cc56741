"""The trace id of a request: every log line and Celery task of the request carries it.

Taken from the client's (or the proxy's) ``X-Request-ID`` when it is a sane token, otherwise
made up here, and answered in the response's ``X-Request-ID`` so a buyer's support request can
name it. See shared/logs.py for where it travels from here.
"""

from shared.logs import clean_trace_id, new_trace_id, traced

HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"


class RequestIdMiddleware:
    """Binds the request's trace id around the whole request (outermost middleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A bad header (too long, odd characters) is replaced, never echoed into logs.
        trace_id = clean_trace_id(request.META.get(_META_KEY)) or new_trace_id()
        with traced(trace_id):
            response = self.get_response(request)
        response[HEADER] = trace_id
        return response
