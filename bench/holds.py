"""Hold throughput at saturation, measured with wrk (bench/hold.lua) against a web server."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from pathlib import Path

from bench.client import CpuMeter

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ROOT / "var" / "bench" / "targets.lua"


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_targets(
    path: str,
    seat_ids: list[int],
    auth: list[str],
    auth_header: str,
    *,
    csrf: str | None = None,
    bare: bool = False,
    ttl_ms: int = 0,
    seats_per_hold: int = 1,
) -> Path:
    TARGETS.parent.mkdir(parents=True, exist_ok=True)
    TARGETS.write_text(
        "return {\n"
        f"  path = {_lua_string(path)},\n"
        f"  auth_header = {_lua_string(auth_header)},\n"
        f"  csrf = {_lua_string(csrf) if csrf else 'nil'},\n"
        f"  bare = {'true' if bare else 'false'},\n"
        f"  ttl_ms = {ttl_ms},\n"
        f"  seats_per_hold = {seats_per_hold},\n"
        f"  seats = {{{','.join(str(s) for s in seat_ids)}}},\n"
        f"  auth = {{{','.join(_lua_string(a) for a in auth)}}},\n"
        "}\n"
    )
    return TARGETS


def run_wrk(base_url: str, connections: int, seconds: int, threads: int = 1) -> dict:
    """wrk with bench/hold.lua on the targets written last; its figures plus its CPU share."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: run infrastructure/provision.sh (it installs it)")
    env = {**os.environ, "BENCH_TARGETS": str(TARGETS)}
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--latency", "--timeout", "10s", "-s", str(ROOT / "bench" / "hold.lua"), base_url]
    # wrk is a child process: its CPU time shows in RUSAGE_CHILDREN once it has been waited for.
    with CpuMeter(resource.RUSAGE_CHILDREN) as cpu:
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    raw = {}
    for line in out.stdout.splitlines():
        if "=" in line and " " not in line.strip():
            key, value = line.strip().split("=", 1)
            raw[key] = float(value)
    duration = raw["duration_s"]
    return {
        "holds_per_s": raw["status_created"] / duration,
        "requests_per_s": raw["requests"] / duration,
        "p50_ms": raw["latency_p50_ms"],
        "p99_ms": raw["latency_p99_ms"],
        "created": int(raw["status_created"]),
        "conflicts_409": int(raw["status_conflict"]),
        "throttled_429": int(raw["status_throttled"]),
        "other_status": int(raw["status_other"]),
        "socket_errors": int(raw["socket_errors"]),
        "wrk_cpu_share": cpu.share,
    }
