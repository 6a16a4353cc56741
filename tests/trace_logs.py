"""Following one trace id through the log files of real processes (shared/logs.py).

``Trail`` remembers where each log file ended when it was made, so it reads only what the
processes wrote since, and answers what ``grep <trace id>`` over those files would find.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


class Trail:
    def __init__(self, trace_id: str, **logs: Path):
        """``logs``: process name -> its log file."""
        self.trace_id = trace_id
        self.logs = logs
        self.offsets = {
            name: path.stat().st_size if path.exists() else 0 for name, path in logs.items()
        }

    def grep(self) -> dict[str, list[dict]]:
        """Per process, every line written since that contains the trace id, parsed as JSON
        (a matching line that is no JSON object fails the test)."""
        found = {}
        for name, path in self.logs.items():
            text = path.read_bytes()[self.offsets[name] :].decode(errors="replace")
            lines = [line for line in text.splitlines() if self.trace_id in line]
            found[name] = [json.loads(line) for line in lines]
        return found

    def events(self, process: str) -> list[str]:
        return [record["event"] for record in self.grep()[process]]

    def wait_for(self, process: str, event: str, timeout: float = 30) -> dict:
        """The first record of ``event`` with this trace id in ``process``'s log."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.grep()[process]:
                if record["event"] == event:
                    return record
            assert time.monotonic() < deadline, (
                f"no {event!r} with trace {self.trace_id} in the {process} log; "
                f"it has {self.events(process)}"
            )
            time.sleep(0.1)
