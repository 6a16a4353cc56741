"""`make run`'s supervision: the project's supervisord template rendered by `honcho export` from a
Procfile restarts a process that was SIGKILLed while the others keep serving, and SIGINT (Ctrl-C)
stops every process it started.

The Procfile here lists a web server and a booking-style Celery worker on free ports and a queue
of their own (the test vhost and database), so it runs beside a `make run`.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, test_database_url

ROOT = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    children = [int(p) for p in out.stdout.split()]
    return children + [d for c in children for d in _descendants(c)]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Supervised:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = free_port()
        self.log = tmp / "supervisord.out"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Supervised":
        python = sys.executable
        (self.tmp / "Procfile").write_text(
            f"web: {python} -m gunicorn ticketing.wsgi --workers 1 --bind 127.0.0.1:{self.port}\n"
            f"worker: {python} -m celery -A ticketing worker -Q supervised-{os.getpid()} "
            "--pool threads --concurrency 2 -n supervised@%h --without-gossip --without-mingle "
            "--without-heartbeat -l INFO\n"
        )
        for folder in ("var/log", "var/run"):
            (self.tmp / folder).mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [python, "-m", "honcho", "export", "-f", str(self.tmp / "Procfile"),
             "-d", str(self.tmp), "-t", str(ROOT / "infrastructure" / "supervisord"),
             "-a", "ticketing", "-s", "/bin/bash", "-u", str(os.getuid()),
             "supervisord", str(self.tmp / "conf")],
            check=True, capture_output=True, cwd=self.tmp,
        )  # fmt: skip
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "ticketing.settings_test",
            "DATABASE_URL": test_database_url(),
        }
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [python, "-m", "supervisor.supervisord", "-n", "-c",
                 str(self.tmp / "conf" / "ticketing.conf")],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(re.findall(pattern, self.output())) < count:
            assert self.proc.poll() is None, self.output()[-3000:]
            assert time.monotonic() < deadline, f"no {pattern!r}:\n{self.output()[-3000:]}"
            time.sleep(0.2)

    def worker_pid(self) -> int:
        """The Celery worker's own process (not the bash around it)."""
        pids = [
            pid
            for pid in _descendants(self.proc.pid)
            if _command(pid).startswith(f"{sys.executable} -m celery ")
        ]
        assert len(pids) == 1, (pids, self.output()[-2000:])
        return pids[0]

    def stop(self) -> None:
        """SIGKILL supervisord first (so it restarts nothing), then whatever it left running."""
        left = _descendants(self.proc.pid)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        strays = [
            int(pid)
            for marker in (f"127.0.0.1:{self.port}", f"supervised-{os.getpid()} ")
            for pid in subprocess.run(
                ["pgrep", "-f", marker], capture_output=True, text=True, check=False
            ).stdout.split()
        ]
        for pid in {*left, *strays}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def supervised(tmp_path_factory, django_db_setup):
    system = Supervised(tmp_path_factory.mktemp("supervised")).start()
    yield system
    system.stop()
    from ticketing.celery import app

    with app.connection_for_write() as conn:  # the worker's queue of its own
        conn.default_channel.queue_delete(f"supervised-{os.getpid()}")


def test_a_sigkilled_worker_comes_back_while_web_keeps_answering(supervised):
    # Given the web server and the worker up under supervision
    supervised.wait_for(r"worker\.1 +\| .* ready\.")
    web = f"http://127.0.0.1:{supervised.port}/healthz"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(web, timeout=10).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, supervised.output()[-2000:]
        time.sleep(0.2)
    answers: list[int] = []
    stop = threading.Event()

    def poll_web():
        while not stop.is_set():
            try:
                answers.append(httpx.get(web, timeout=10).status_code)
            except httpx.HTTPError:
                answers.append(0)
            time.sleep(0.05)

    poller = threading.Thread(target=poll_web)
    poller.start()
    try:
        # When the worker's main process is SIGKILLed (an OOM kill)
        killed = supervised.worker_pid()
        os.kill(killed, signal.SIGKILL)

        # Then supervisord starts it again, and web answered every request meanwhile
        supervised.wait_for(r"worker\.1 +\| .* ready\.", count=2)
    finally:
        stop.set()
        poller.join()
    assert supervised.worker_pid() != killed
    assert "exited: worker-1 (terminated by SIGKILL" in supervised.output() or (
        "exited: worker-1 (exit status 137" in supervised.output()
    )
    assert " CRIT " not in supervised.output()
    assert answers and set(answers) == {200}, answers


def test_sigint_stops_every_process(supervised):
    children = _descendants(supervised.proc.pid)
    assert children

    os.kill(supervised.proc.pid, signal.SIGINT)  # Ctrl-C in the terminal of `make run`

    assert supervised.proc.wait(timeout=60) == 0
    alive = [pid for pid in children if _command(pid)]
    assert alive == [], [_command(pid) for pid in alive]
