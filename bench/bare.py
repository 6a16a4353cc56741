"""The bare baseline server: the Procfile's web command, started by the bench on a free port
with bench/bare_settings.py, so it runs with exactly the web process's worker class, count and
flags (read from infrastructure/Procfile at every run, so it follows changes there)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "infrastructure" / "Procfile"
_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def _expand(text: str) -> str:
    """Shell-style ``${VAR:-default}`` and ``$VAR`` as honcho's shell would expand them."""
    return _VAR.sub(lambda m: os.environ.get(m[1] or m[3]) or (m[2] or ""), text)


def web_command(port: int, procfile: Path = PROCFILE) -> list[str]:
    """The ``web:`` line of the Procfile with its listening address moved to ``port``."""
    line = next((raw for raw in procfile.read_text().splitlines() if raw.startswith("web:")), None)
    if line is None:
        raise SystemExit(f"{procfile} has no web: line")
    args = shlex.split(_expand(line.split(":", 1)[1]))
    if args and args[0] == "exec":
        args = args[1:]
    out, moved, i = [], False, 0
    while i < len(args):
        arg = args[i]
        if arg in ("--bind", "-b"):
            out += [arg, f"127.0.0.1:{port}"]
            i, moved = i + 2, True
            continue
        if arg.startswith("--bind="):
            out.append(f"--bind=127.0.0.1:{port}")
            moved = True
        elif arg == "--port":  # uvicorn, granian
            out += [arg, str(port)]
            i, moved = i + 2, True
            continue
        else:
            out.append(arg)
        i += 1
    if not moved:
        raise SystemExit(f"cannot find the listening address in the web line: {line}")
    executable = shutil.which(out[0]) or str(ROOT / ".venv" / "bin" / out[0])
    return [executable, *out[1:]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BareServer:
    """``with BareServer() as url:`` the bare baseline answering on ``url``."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = web_command(self.port)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> str:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.bare_settings"}
        log = ROOT / "var" / "log" / "bench-bare.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            # Its own process group: stopping it stops its workers too, and nothing else.
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the bare server exited at start; see {log}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise SystemExit(f"the bare server did not answer within 60 s; see {log}")

    def __exit__(self, *exc):
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def web_url(procfile: Path = PROCFILE) -> str | None:
    """Where the Procfile's web process listens (host:port), to measure it without the proxy."""
    line = next((raw for raw in procfile.read_text().splitlines() if raw.startswith("web:")), "")
    args = shlex.split(_expand(line.split(":", 1)[-1]))
    for i, arg in enumerate(args):
        if arg in ("--bind", "-b") and i + 1 < len(args):
            return f"http://{args[i + 1]}"
        if arg.startswith("--bind="):
            return f"http://{arg.split('=', 1)[1]}"
        if arg == "--port" and i + 1 < len(args):
            return f"http://127.0.0.1:{args[i + 1]}"
    return None
