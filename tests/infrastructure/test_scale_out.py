"""The local Redis Cluster script and the process counts of `make run`."""

import re
import subprocess

from tests.conftest import ROOT

SCRIPT = str(ROOT / "infrastructure/redis_cluster.sh")


def cli(port: str, *args: str) -> str:
    return subprocess.run(
        ["redis-cli", "-p", port, *args], capture_output=True, text=True, check=True
    ).stdout


def test_the_cluster_script_reuses_a_running_cluster_of_three_masters_with_a_replica_each(
    redis_cluster,
):
    # given the cluster the session started; when the script runs again
    again = subprocess.run([SCRIPT, "start"], capture_output=True, text=True, timeout=120)
    # then it starts nothing and reports the running cluster
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.match(r"redis-cluster\s+already running on 127\.0\.0\.1:7000-7005", again.stdout)
    # and there are three masters sharing all slots, each with one replica
    port = redis_cluster.split(",")[0].rpartition(":")[2]
    nodes = [line.split() for line in cli(port, "cluster", "nodes").splitlines()]
    masters = {n[0] for n in nodes if "master" in n[2]}
    replicas_of = [n[3] for n in nodes if "slave" in n[2]]
    assert len(masters) == 3
    assert sorted(replicas_of) == sorted(masters)
    assert "cluster_slots_assigned:16384" in cli(port, "cluster", "info")
    # and a dead master is replaced within seconds (the failover drill relies on it)
    assert cli(port, "config", "get", "cluster-node-timeout").split()[1] == "2000"


def test_make_run_honours_the_process_counts_and_the_cluster_switch():
    # when `make run` is asked for 3 booking workers on the cluster (dry run: nothing starts)
    dry = subprocess.run(
        ["make", "-n", "-p", "run", "BOOKING_WORKERS=3", "REDIS_CLUSTER=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    # then supervisord is given three worker processes (the Procfile exported through honcho)
    # and the cluster's nodes are exported
    commands = dry.stdout.replace("\\\n", " ")
    assert re.search(r"^honcho export .* -c worker=3 supervisord var/supervisor$", commands, re.M)
    assert re.search(r"^REDIS_CLUSTER_NODES := 127\.0\.0\.1:7000,", dry.stdout, re.M)
    assert "infrastructure/redis_cluster.sh start" in dry.stdout
    # and the Procfile sizes web and ws from the environment and names each worker apart
    procfile = (ROOT / "infrastructure/Procfile").read_text()
    assert re.search(
        r"^web: \S*metrics_dir.sh gunicorn .*--workers \$\{WEB_WORKERS:-2\}", procfile, re.M
    )
    assert re.search(
        r"^ws: \S*metrics_dir.sh uvicorn .*--workers \$\{WS_WORKERS:-2\}", procfile, re.M
    )
    assert re.search(r"^worker: .*metrics_dir.sh celery .* -n bookings-\$\$@%h", procfile, re.M)
