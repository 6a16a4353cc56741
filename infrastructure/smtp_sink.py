"""A local SMTP server that keeps every message it receives as an .eml file.

Development and the tests send mail here instead of to a real relay; the tests read the
folder to check what was sent. Run: ``python -m infrastructure.smtp_sink --port 1025``.
"""

import argparse
import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, maildir: Path):
        self.maildir = maildir
        self.maildir.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.maildir / f".{name}.tmp"
        tmp.write_bytes(envelope.original_content or envelope.content)
        # Rename so readers never see a half-written message.
        os.replace(tmp, self.maildir / name)
        return "250 Message accepted for delivery"


def serve(host: str, port: int, maildir: Path) -> None:
    controller = Controller(MaildirHandler(maildir), hostname=host, port=port)
    controller.start()
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        loop.run_until_complete(stop.wait())
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument(
        "--maildir", type=Path, default=Path.home() / ".local" / "share" / "ticketing" / "mail"
    )
    args = parser.parse_args()
    serve(args.host, args.port, args.maildir)


if __name__ == "__main__":
    main()
