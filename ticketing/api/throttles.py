"""Per-buyer rate limits on the write endpoints, counted in Redis (holds count theirs inside
the hold script, ``shared.locks``).

DRF's stock throttles keep a pickled request history in the cache (a read and a write per
request); on the hold path one pipelined INCR per request is enough: a fixed window per buyer.
"""

import time

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from shared.redis_clients import redis_client


def _redis():
    return redis_client(settings.CACHE_URL)


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


class RegistrationRateThrottle(BuyerWindowThrottle):
    scope = "registrations"
