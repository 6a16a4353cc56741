"""Several web and booking-worker processes on the Redis Cluster, for the cluster tests.

They use the test vhost and its ``bookings`` queue. The session's single-Redis booking worker,
if it runs, is paused meanwhile (it would take their commands and check them against the
single Redis) and started again afterwards.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from infrastructure.processes import free_port
from tests.conftest import SINGLE_REDIS_BOOKING_WORKERS, WorkerProcess, _serve, purge_test_queues

WEB_PROCESSES = 2
BOOKING_PROCESSES = 2


class ClusterStack:
    """Base URLs of the web processes and the booking workers, all on the Redis Cluster."""

    def __init__(self, nodes: str, webs: list[str], workers: list[WorkerProcess]):
        self.nodes, self.webs, self.workers = nodes, webs, workers


def _side_by_side(calls) -> None:
    """Stop or start processes in parallel: each takes seconds (warm shutdown, boot)."""
    with ThreadPoolExecutor() as pool:
        list(pool.map(lambda call: call(), calls))


@pytest.fixture(scope="module")
def cluster_stack(redis_cluster, django_db_setup, artifacts_dir):
    paused = list(SINGLE_REDIS_BOOKING_WORKERS)
    _side_by_side([w.stop for w in paused])
    purge_test_queues()
    webs, servers, workers = [], [], []
    try:
        with pytest.MonkeyPatch.context() as env:
            # Read by the processes started here (they inherit this environment); restored
            # afterwards, so servers other tests start stay on the single Redis.
            env.setenv("REDIS_CLUSTER_NODES", redis_cluster)
            for i in range(WEB_PROCESSES):
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                args = ["gunicorn", "ticketing.wsgi", "--workers", "1", "--threads", "8"]
                args += ["--bind", f"127.0.0.1:{port}", "--backlog", "2048"]
                log = artifacts_dir / f"cluster-web-{i}.log"
                servers.append(_serve(args, log, f"{url}/healthz"))
                webs.append(url)
            for i in range(BOOKING_PROCESSES):
                # Named apart: two workers of one name confuse Celery's remote control.
                name = f"cluster-{i}-{os.getpid()}@%h"
                worker = WorkerProcess(
                    "bookings",
                    artifacts_dir / f"cluster-worker-{i}.log",
                    concurrency=8,
                    pool="threads",
                    extra_args=("--prefetch-multiplier", "24", "-n", name),
                )
                workers.append(worker)
            _side_by_side([w.start for w in workers])
        yield ClusterStack(redis_cluster, webs, workers)
    finally:
        _side_by_side([w.stop for w in workers] + [s.stop for s in servers])
        purge_test_queues()
        _side_by_side([w.start for w in paused])
