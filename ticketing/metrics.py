"""Request metrics and the ``/metrics`` page of the web and ws processes.

``/metrics`` is for Prometheus on the same machine: nginx does not forward it
(infrastructure/nginx.conf) and the view answers only loopback callers and staff
(``health.may_see_details``), since route names, error rates and queue depths say more about
the system than the public should see.
"""

from __future__ import annotations

import time

from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import metrics
from ticketing.health import may_see_details

# Any other method string a client sends is counted as "other" (no series per invented verb).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetricsMiddleware:
    """Latency and status of every request, by the URL pattern that served it.

    First in MIDDLEWARE, so the time includes the other middleware. A request no pattern
    matched (a 404, a redirect to the slash) counts as route ``unmatched``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        route = match.route if match is not None else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        metrics.HTTP_LATENCY.labels(route, method).observe(elapsed)
        metrics.HTTP_REQUESTS.labels(route, method, response.status_code).inc()
        return response


def metrics_view(request):
    if not may_see_details(request):
        return JsonResponse(
            {
                "error": {
                    "code": "permission_denied",
                    "message": "Metrics are served to the local Prometheus only.",
                    "details": None,
                }
            },
            status=403,
        )
    return HttpResponse(generate_latest(metrics.registry()), content_type=CONTENT_TYPE_LATEST)
