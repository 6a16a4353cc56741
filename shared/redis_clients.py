"""One redis-py client per URL and process, created once under a lock.

Creating clients lazily without a lock lets two threads build one each; the loser is garbage
collected and closes its pool, including a connection the other thread may already be using
(seen as "Bad file descriptor" under a burst of first requests).
"""

import threading

import redis

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def redis_client(url: str, **options) -> redis.Redis:
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                options.setdefault("socket_timeout", 2)
                options.setdefault("socket_connect_timeout", 2)
                options.setdefault("health_check_interval", 30)
                client = _clients[url] = redis.Redis.from_url(url, **options)
    return client
