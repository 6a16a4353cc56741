"""One redis-py client per URL and process, created once under a lock.

Creating clients lazily without a lock lets two threads build one each; the loser is garbage
collected and closes its pool, including a connection the other thread may already be using
(seen as "Bad file descriptor" under a burst of first requests).
"""

import threading

import redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

# What a seat-lock Redis that is down or mid-failover raises: a dead master's connection
# errors, CLUSTERDOWN or a slot without a master. Worth a 503 or a wait, never a 500.
REDIS_OUTAGE_ERRORS = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ClusterError,
    redis.exceptions.RedisClusterException,
)

_clients: dict[str, redis.Redis | RedisCluster] = {}
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


# --- the seat-lock Redis: one server, or a Redis Cluster ----------------------------------
# During a failover the dead master's slots answer with connection errors until its replica
# takes over (about cluster-node-timeout plus an election, 2-4 s locally). One retry with a
# fresh slot map covers a switch that already happened; more would only hold the request
# while nobody owns the slot. The caller answers 503 with Retry-After instead.
CLUSTER_RETRIES = 1
CLUSTER_CONNECT_TIMEOUT = 0.5
CLUSTER_SOCKET_TIMEOUT = 2


def cluster_nodes(nodes: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` (``REDIS_CLUSTER_NODES``) as (host, port) pairs."""
    pairs = []
    for node in nodes.split(","):
        host, _, port = node.strip().rpartition(":")
        pairs.append((host or "127.0.0.1", int(port)))
    return pairs


def _cluster_options(retry_class=Retry) -> dict:
    return {
        "retry": retry_class(NoBackoff(), CLUSTER_RETRIES),
        # The client may start while a failover leaves some slots without a master.
        "require_full_coverage": False,
        "socket_connect_timeout": CLUSTER_CONNECT_TIMEOUT,
        "socket_timeout": CLUSTER_SOCKET_TIMEOUT,
    }


def redis_cluster_client(nodes: str) -> RedisCluster:
    """One RedisCluster per node list and process (it keeps a pool per node)."""
    key = f"cluster:{nodes}"
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                startup = [ClusterNode(h, p) for h, p in cluster_nodes(nodes)]
                client = _clients[key] = RedisCluster(startup_nodes=startup, **_cluster_options())
    return client


def seat_lock_client() -> redis.Redis | RedisCluster:
    """The Redis of the seat locks and seat-change streams: the cluster named by
    ``REDIS_CLUSTER_NODES`` when it is set, else ``REDIS_URL``."""
    from django.conf import settings

    if settings.REDIS_CLUSTER_NODES:
        return redis_cluster_client(settings.REDIS_CLUSTER_NODES)
    return redis_client(settings.REDIS_URL)


def async_seat_lock_client(**options):
    """A new asyncio client of the seat-lock Redis (one per event loop; the caller closes it)."""
    from django.conf import settings

    if settings.REDIS_CLUSTER_NODES:
        startup = [AsyncClusterNode(h, p) for h, p in cluster_nodes(settings.REDIS_CLUSTER_NODES)]
        options = {**_cluster_options(AsyncRetry), **options}
        return AsyncRedisCluster(startup_nodes=startup, **options)
    return AsyncRedis.from_url(settings.REDIS_URL, **options)
