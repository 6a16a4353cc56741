"""The in-process cache every hot read uses (event rules, seat pricing, best-available rows,
seat-map pages, session users).

The invalidation rule, written once: each entry belongs to an owner (an event id, a session
key) and is stored with the version of everything it was built from (the event rules'
version, the seat map's revision). A read with another version misses, and storing the new
value replaces the owner's old one, so a change is never served stale and old versions do not
pile up. ``ttl`` bounds how long a value is trusted when nothing versions it (it may change
elsewhere); ``max_entries`` bounds memory, dropping the oldest owner first.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

_every_cache: weakref.WeakSet[LocalCache] = weakref.WeakSet()


class LocalCache(Generic[V]):
    def __init__(self, *, ttl: Callable[[], float] | float | None = None, max_entries=10_000):
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[Hashable, tuple[Hashable, float, V]] = {}
        self._lock = threading.Lock()
        _every_cache.add(self)

    def get(self, owner: Hashable, version: Hashable = None) -> V | None:
        entry = self._entries.get(owner)
        if entry is None or entry[0] != version or entry[1] <= time.monotonic():
            return None
        return entry[2]

    def set(self, owner: Hashable, value: V, version: Hashable = None) -> V:
        ttl = self._ttl() if callable(self._ttl) else self._ttl
        expires = time.monotonic() + ttl if ttl is not None else float("inf")
        with self._lock:
            self._entries.pop(owner, None)
            while len(self._entries) >= self._max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[owner] = (version, expires, value)
        return value

    def get_or_build(self, owner: Hashable, version: Hashable, build: Callable[[], V]) -> V:
        cached = self.get(owner, version)
        return cached if cached is not None else self.set(owner, build(), version)

    def discard(self, owner: Hashable) -> None:
        with self._lock:
            self._entries.pop(owner, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @staticmethod
    def clear_all() -> None:
        """Forget every cache of this process (tests that reset Redis and the database)."""
        for cache in list(_every_cache):
            cache.clear()
