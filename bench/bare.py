"""The bare baseline server: the Procfile's web command, started by the bench on a free port
with bench/bare_settings.py, so it runs with exactly the web process's worker class, count and
flags (read from infrastructure/Procfile at every run, so it follows changes there)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

from infrastructure.processes import ManagedProcess, free_port, url_answers

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
    if args and args[0].endswith("metrics_dir.sh"):
        args = args[1:]  # the bare baseline exports no metrics (no middleware counts them)
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


class BareServer(ManagedProcess):
    """``with BareServer() as url:`` the bare baseline answering on ``url``."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = web_command(self.port)
        super().__init__(
            self.command,
            log_path=ROOT / "var" / "log" / "bench-bare.log",
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "bench.bare_settings"},
        )

    def __enter__(self) -> str:
        try:
            self.start(url_answers(f"{self.url}/healthz"))
        except RuntimeError as exc:
            raise SystemExit(f"the bare server did not start: {exc}") from exc
        return self.url


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
