"""Reading the development SMTP sink's folder in tests without parsing every old message.

The sink names each file ``<time_ns>-<random>.eml`` when it receives it, so a test parses only
the files received since it started (the folder keeps every message ever sent).
"""

import email
import email.policy
import time
from pathlib import Path


def now_ns() -> int:
    return time.time_ns()


def received_since(maildir: Path, since_ns: int) -> list[email.message.EmailMessage]:
    messages = []
    for path in sorted(maildir.glob("*.eml")):
        stamp = path.name.split("-", 1)[0]
        if stamp.isdigit() and int(stamp) >= since_ns:
            raw = path.read_bytes()
            messages.append(email.message_from_bytes(raw, policy=email.policy.default))
    return messages


def wait_for_mail(maildir: Path, since_ns: int, match, timeout: float = 10.0):
    """The first message received since ``since_ns`` for which ``match(message)`` is true."""
    deadline = time.monotonic() + timeout
    while True:
        for message in received_since(maildir, since_ns):
            if match(message):
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching mail in {maildir} after {timeout}s")
        time.sleep(0.2)
