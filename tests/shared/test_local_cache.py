"""The in-process cache's one invalidation rule: a new version replaces the owner's entry."""

import time

from shared.local_cache import LocalCache


def test_a_new_version_misses_and_replaces_the_owners_old_entry():
    cache = LocalCache()
    cache.set(1, "rules v1", version="v1")

    assert cache.get(1, "v1") == "rules v1"
    assert cache.get(1, "v2") is None
    assert cache.get_or_build(1, "v2", lambda: "rules v2") == "rules v2"
    assert cache.get(1, "v1") is None  # the old version is gone, not kept beside the new


def test_an_unversioned_entry_is_trusted_for_its_ttl_only():
    cache = LocalCache(ttl=0.05)
    cache.set("session", "user")
    assert cache.get("session") == "user"

    time.sleep(0.06)

    assert cache.get("session") is None


def test_the_oldest_owner_goes_first_when_full_and_discard_forgets_one():
    cache = LocalCache(max_entries=2)
    cache.set(1, "a")
    cache.set(2, "b")
    cache.set(3, "c")
    assert (cache.get(1), cache.get(2), cache.get(3)) == (None, "b", "c")

    cache.discard(2)

    assert cache.get(2) is None


def test_clear_all_empties_every_cache_of_the_process():
    first, second = LocalCache(), LocalCache()
    first.set(1, "a")
    second.set(1, "b")

    LocalCache.clear_all()

    assert first.get(1) is None and second.get(1) is None
