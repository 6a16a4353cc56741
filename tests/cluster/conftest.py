"""Several web and booking-worker processes on the Redis Cluster, for the cluster tests.

They run on their own RabbitMQ vhost (the test vhost plus ``_cluster``): the session's
single-Redis booking worker consumes the test vhost's ``bookings`` queue and would take the
cluster's commands otherwise.
"""

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse, urlunparse

import pytest
from django.conf import settings
from kombu import Connection

from tests.conftest import WorkerProcess, _serve, _stop, free_port

WEB_PROCESSES = 2
BOOKING_PROCESSES = 2


def _rabbitmqctl(*args: str) -> str:
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    done = subprocess.run([*sudo, "rabbitmqctl", "-q", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def cluster_broker_url() -> str:
    """The test broker URL on a vhost of its own (created, as provisioning does, if missing)."""
    url = urlparse(settings.CELERY_BROKER_URL)
    vhost = f"{url.path.lstrip('/') or 'ticketing_test'}_cluster"
    if vhost not in _rabbitmqctl("list_vhosts").split():
        _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, url.username or "guest", ".*", ".*", ".*")
    return urlunparse(url._replace(path=f"/{vhost}"))


def purge(broker_url: str) -> None:
    with Connection(broker_url) as conn:
        for queue in ("bookings", "notifications", "bookings.dlq"):
            try:
                conn.default_channel.queue_purge(queue)
            except Exception:
                conn.close()  # a queue not declared yet closes the channel


class ClusterStack:
    """Base URLs of the web processes and the booking workers, all on the Redis Cluster."""

    def __init__(self, nodes: str, broker_url: str, webs: list[str], workers, servers):
        self.nodes, self.broker_url = nodes, broker_url
        self.webs, self.workers, self.servers = webs, workers, servers


@pytest.fixture(scope="session")
def cluster_stack(redis_cluster, django_db_setup, artifacts_dir):
    """Shared by the cluster race and the failover drill (one start-up for both)."""
    broker_url = cluster_broker_url()
    purge(broker_url)
    webs, servers, workers = [], [], []
    try:
        with pytest.MonkeyPatch.context() as env:
            # Read by the processes started here (they inherit this environment); restored
            # afterwards, so servers other tests start later stay on the single Redis.
            env.setenv("REDIS_CLUSTER_NODES", redis_cluster)
            env.setenv("CELERY_BROKER_URL", broker_url)
            for i in range(WEB_PROCESSES):
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                args = ["gunicorn", "ticketing.wsgi", "--workers", "1", "--threads", "8"]
                args += ["--bind", f"127.0.0.1:{port}", "--backlog", "2048"]
                log = artifacts_dir / f"cluster-web-{i}.log"
                servers.append(_serve(args, log, f"{url}/healthz"))
                webs.append(url)
            for i in range(BOOKING_PROCESSES):
                name = ("-n", f"cluster-bookings-{i}-{os.getpid()}@%h")
                worker = WorkerProcess(
                    "bookings",
                    artifacts_dir / f"cluster-worker-{i}.log",
                    concurrency=8,
                    pool="threads",
                    extra_args=("--prefetch-multiplier", "24", *name),
                )
                workers.append(worker.start())
        yield ClusterStack(redis_cluster, broker_url, webs, workers, servers)
    finally:
        # Stopped side by side: each takes seconds to finish its warm shutdown.
        with ThreadPoolExecutor() as pool:
            list(pool.map(lambda stop: stop(), [w.stop for w in workers]))
            list(pool.map(_stop, servers))
        purge(broker_url)
