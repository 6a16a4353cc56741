"""The Content-Security-Policy header (django-csp), with a nonce on every HTML page.

django-csp adds the nonce to the header only when a template asked for it. We draw one for every
HTML page (other responses get no policy), so all pages carry the same nonce-based policy (a
template that adds an inline ``<script nonce="{{ request.csp_nonce }}">`` needs no other change)
and a test can check it.
The policy itself is in settings (``CONTENT_SECURITY_POLICY``).
"""

from csp.middleware import CSPMiddleware


class NoncedCSPMiddleware(CSPMiddleware):
    def process_response(self, request, response):
        if not response.get("Content-Type", "").startswith("text/html"):
            # A policy governs documents; JSON, PDFs and images are never rendered as pages,
            # and building the header costs the hold path ~0.1 ms per request.
            return response
        str(request.csp_nonce)  # evaluating the lazy nonce puts it in the header
        return super().process_response(request, response)
