"""Per-buyer rate limits on the write endpoints (DRF throttles on the Redis cache)."""

from rest_framework.throttling import UserRateThrottle


class HoldRateThrottle(UserRateThrottle):
    scope = "holds"


class RegistrationRateThrottle(UserRateThrottle):
    scope = "registrations"
