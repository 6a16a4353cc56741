"""Per-buyer rate limits on the write endpoints, counted in Redis.

DRF's stock throttles keep a pickled request history in the cache (a read and a write per
request); on the hold path one pipelined INCR per request is enough: a fixed window per buyer.
"""

import time

import redis
from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.CACHE_URL, socket_timeout=2)
    return _client


class BuyerWindowThrottle(SimpleRateThrottle):
    """``num_requests`` per ``duration`` seconds per authenticated buyer (fixed window)."""

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        return f"throttle:{self.scope}:{request.user.pk}"

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        window = int(time.time() // self.duration)
        self.wait_seconds = self.duration - (time.time() % self.duration)
        pipe = _redis().pipeline(transaction=False)
        pipe.incr(f"{key}:{window}")
        pipe.expire(f"{key}:{window}", self.duration + 1)
        count, _ = pipe.execute()
        return count <= self.num_requests

    def wait(self):
        return self.wait_seconds


class HoldRateThrottle(BuyerWindowThrottle):
    scope = "holds"


class RegistrationRateThrottle(BuyerWindowThrottle):
    scope = "registrations"
