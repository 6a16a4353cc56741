"""One object per process, built on first use.

Threads do not survive a fork: a gunicorn or Celery child that inherited its parent's
background sender would enqueue into a queue nobody reads. Keyed by pid, a forked child builds
its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self._pid: int | None = None
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._value = self._factory()
                    self._pid = os.getpid()
        return self._value
