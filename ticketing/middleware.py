"""Authentication middleware that keeps the user lookup off the hot path."""

import threading
import time
from functools import partial

from django.contrib.auth import get_user
from django.contrib.auth.middleware import AuthenticationMiddleware, auser
from django.utils.functional import SimpleLazyObject

USER_CACHE_SECONDS = 10
_MAX_ENTRIES = 50_000
_users: dict[str, tuple[float, object]] = {}
_lock = threading.Lock()


def cached_user(request):
    """The session's user, remembered per session key for a few seconds in this process.

    A flash sale sends many requests per buyer; without this each one reads the user table.
    The price: a user deactivated or logged out elsewhere keeps access for up to
    ``USER_CACHE_SECONDS`` in processes that saw them recently.
    """
    key = request.session.session_key
    now = time.monotonic()
    if key:
        hit = _users.get(key)
        if hit and hit[0] > now:
            return hit[1]
    user = get_user(request)
    if key and user.is_authenticated:
        with _lock:
            if len(_users) >= _MAX_ENTRIES:
                _users.clear()
            _users[key] = (now + USER_CACHE_SECONDS, user)
    return user


class CachedAuthenticationMiddleware(AuthenticationMiddleware):
    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: cached_user(request))
        request.auser = partial(auser, request)
