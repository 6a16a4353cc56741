"""Hold throughput and latency through the running web process, measured with wrk."""

import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

from bench import CSRF

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ROOT / "var" / "bench" / "targets.lua"


def write_targets(event_id: int, seat_ids: list[int], sessions: list[str]) -> None:
    TARGETS.parent.mkdir(parents=True, exist_ok=True)
    lua_list = lambda items: "{" + ",".join(items) + "}"  # noqa: E731
    TARGETS.write_text(
        "return {\n"
        f'  path = "/api/v1/events/{event_id}/holds/",\n'
        f'  csrf = "{CSRF}",\n'
        f"  seats = {lua_list(str(s) for s in seat_ids)},\n"
        f"  cookies = {lua_list(repr(k).replace(chr(39), chr(34)) for k in sessions)},\n"
        "}\n"
    )


def run_wrk(base_url: str, connections: int, seconds: int, think_ms: int = 0) -> dict:
    """Run wrk with bench/hold.lua; returns its figures plus its own CPU share."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run infrastructure/provision.sh (it installs it)")
    env = {**os.environ, "BENCH_TARGETS": str(TARGETS), "BENCH_THINK_MS": str(think_ms)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "hold.lua"),
            base_url,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = {}
    for line in out.stdout.splitlines():
        if "=" in line and " " not in line.strip():
            key, value = line.strip().split("=", 1)
            figures[key] = float(value)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    figures["rps"] = figures["requests"] / figures["duration_s"]
    figures["wrk_cpu_share_of_machine"] = cpu / (wall * (os.cpu_count() or 1))
    return figures
