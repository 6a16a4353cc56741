"""Authentication middleware that keeps the user lookup off the hot path."""

from functools import partial

from django.contrib.auth import get_user
from django.contrib.auth.middleware import AuthenticationMiddleware, auser
from django.utils.functional import SimpleLazyObject

from shared.local_cache import LocalCache

USER_CACHE_SECONDS = 10
_users: LocalCache = LocalCache(ttl=USER_CACHE_SECONDS, max_entries=50_000)


def cached_user(request):
    """The session's user, remembered per session key for a few seconds in this process.

    A flash sale sends many requests per buyer; without this each one reads the user table.
    The price: a user deactivated or logged out elsewhere keeps access for up to
    ``USER_CACHE_SECONDS`` in processes that saw them recently.
    """
    key = request.session.session_key
    user = _users.get(key) if key else None
    if user is not None:
        return user
    user = get_user(request)
    if key and user.is_authenticated:
        _users.set(key, user)
    return user


class CachedAuthenticationMiddleware(AuthenticationMiddleware):
    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: cached_user(request))
        request.auser = partial(auser, request)
