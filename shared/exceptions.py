"""Business errors, each with the HTTP status and code the API answers with."""


class TicketingError(Exception):
    http_status = 422
    code = "business_rule"

    def __init__(self, message: str, details=None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code

    def with_status(self, http_status: int) -> "TicketingError":
        self.http_status = http_status
        return self


class BusinessRuleViolation(TicketingError):
    """422: the request is well-formed but the rules of the event refuse it."""


class SeatsUnavailable(TicketingError):
    """409: some requested seats are sold or held by someone else."""

    http_status = 409
    code = "seats_unavailable"


class Conflict(TicketingError):
    http_status = 409
    code = "conflict"


class NotFound(TicketingError):
    http_status = 404
    code = "not_found"


class DependencyUnavailable(TicketingError):
    """503: a service we depend on (Redis, RabbitMQ) did not answer."""

    http_status = 503
    code = "dependency_unavailable"


class PermissionDenied(TicketingError):
    """403: the user is known but may not do this (``shared.access`` decided)."""

    http_status = 403
    code = "permission_denied"


class RateLimited(TicketingError):
    """429: too many attempts; ``retry_after`` seconds until the window ends."""

    http_status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, details={"retry_after_seconds": retry_after})
        self.retry_after = retry_after
