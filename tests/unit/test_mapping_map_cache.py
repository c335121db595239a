"""MapCache: TTL, longest-prefix lookup, LRU bound, refresh and the single deadline."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from lispstack.mapping.map_cache import MapCache
from lispstack.mapping.prefix import EidPrefix

P = EidPrefix.parse
A = IPv4Address


def test_lookup_longest_match_and_negative_entries() -> None:
    cache: MapCache[tuple[str, ...]] = MapCache()
    cache.put(P("0.0.0.0/1"), (), ttl=900, now=0, action="natively-forward", source="negative")
    cache.put(P("192.168.2.0/24"), ("10.0.2.2",), ttl=86400, now=0)
    hit = cache.lookup(0, A("192.168.2.1"), now=1)
    assert hit is not None and hit.prefix == P("192.168.2.0/24") and hit.mapping == ("10.0.2.2",)
    negative = cache.lookup(0, A("4.2.2.2"), now=1)
    assert negative is not None
    assert (negative.action, negative.mapping, negative.source) == (
        "natively-forward",
        (),
        "negative",
    )
    assert cache.lookup(0, A("192.168.3.1"), now=1) is None
    assert cache.lookup(1, A("4.2.2.2"), now=1) is None


def test_expired_entries_are_never_returned() -> None:
    cache: MapCache[str] = MapCache()
    cache.put(P("10.0.0.0/8"), "outer", ttl=100, now=0)
    cache.put(P("10.1.0.0/16"), "inner", ttl=10, now=0)
    assert cache.lookup(0, A("10.1.1.1"), now=9.9).mapping == "inner"  # type: ignore[union-attr]
    found = cache.lookup(0, A("10.1.1.1"), now=10)
    assert found is not None and found.mapping == "outer"
    assert P("10.1.0.0/16") not in cache and len(cache) == 1
    assert cache.lookup(0, A("10.1.1.1"), now=100) is None
    assert len(cache) == 0


def test_expire_returns_removed_and_next_deadline() -> None:
    cache: MapCache[str] = MapCache()
    assert cache.next_deadline() is None
    cache.put(P("10.0.0.0/8"), "a", ttl=30, now=0)
    cache.put(P("11.0.0.0/8"), "b", ttl=10, now=0)
    cache.put(P("12.0.0.0/8"), "c", ttl=20, now=0)
    assert cache.next_deadline() == 10
    assert cache.expire(5) == []
    assert [e.mapping for e in cache.expire(20)] == ["b", "c"]
    assert cache.next_deadline() == 30
    cache.remove(P("10.0.0.0/8"))
    assert cache.next_deadline() is None
    assert cache.expire(1000) == []


def test_refresh_keeps_creation_and_moves_deadline() -> None:
    cache: MapCache[str] = MapCache()
    cache.put(P("10.0.0.0/8"), "old", ttl=60, now=0)
    cache.lookup(0, A("10.0.0.1"), now=5)
    cache.put(P("10.0.0.0/8"), "new", ttl=60, now=50, source="map-reply")
    entry = cache.get(P("10.0.0.0/8"))
    assert entry is not None
    assert (entry.created, entry.refreshed, entry.expires_at) == (0, 50, 110)
    assert (entry.mapping, entry.hits, entry.last_used) == ("new", 1, 5)
    assert cache.next_deadline() == 110  # the first deadline (60) is stale
    assert cache.expire(60) == []
    assert len(cache) == 1


def test_ttl_zero_removes() -> None:
    cache: MapCache[str] = MapCache()
    cache.put(P("10.0.0.0/8"), "a", ttl=60, now=0)
    assert cache.put(P("10.0.0.0/8"), "a", ttl=0, now=1) == []
    assert len(cache) == 0
    cache.put(P("11.0.0.0/8"), "b", ttl=0, now=1)
    assert len(cache) == 0


def test_lru_bound_evicts_least_recently_used() -> None:
    cache: MapCache[int] = MapCache(max_entries=3)
    for index in range(3):
        assert cache.put(P(f"10.{index}.0.0/16"), index, ttl=600, now=index) == []
    cache.lookup(0, A("10.0.0.1"), now=10)  # 10.0/16 becomes the most recently used
    evicted = cache.put(P("10.3.0.0/16"), 3, ttl=600, now=11)
    assert [e.prefix for e in evicted] == [P("10.1.0.0/16")]
    assert len(cache) == 3
    assert cache.lookup(0, A("10.1.0.1"), now=12) is None
    assert [e.mapping for e in cache] == [0, 2, 3]


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MapCache[int](max_entries=0)


def test_due_for_refresh_lists_used_entries_near_expiry() -> None:
    cache: MapCache[str] = MapCache()
    cache.put(P("10.0.0.0/8"), "used", ttl=60, now=0)
    cache.put(P("11.0.0.0/8"), "idle", ttl=60, now=0)
    cache.put(P("12.0.0.0/8"), "later", ttl=600, now=0)
    cache.lookup(0, A("10.0.0.1"), now=10)
    cache.lookup(0, A("12.0.0.1"), now=10)
    assert cache.due_for_refresh(now=20, margin=10) == []
    assert [e.mapping for e in cache.due_for_refresh(now=50, margin=10)] == ["used"]
    cache.put(P("10.0.0.0/8"), "used", ttl=60, now=55)  # refreshed: not used since
    assert cache.due_for_refresh(now=110, margin=10) == []
    assert cache.due_for_refresh(now=60, margin=600) == [cache.get(P("12.0.0.0/8"))]


def test_remove_within() -> None:
    cache: MapCache[str] = MapCache()
    for text in ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "11.0.0.0/8"]:
        cache.put(P(text), text, ttl=60, now=0)
    removed = cache.remove_within(P("10.1.0.0/16"))
    assert [e.mapping for e in removed] == ["10.1.0.0/16", "10.1.2.0/24"]
    assert [e.mapping for e in cache] == ["10.0.0.0/8", "11.0.0.0/8"]
    cache.clear()
    assert len(cache) == 0 and cache.next_deadline() is None


def test_churn_keeps_the_deadline_heap_small() -> None:
    cache: MapCache[int] = MapCache(max_entries=10)
    for index in range(5000):
        cache.put(P(f"10.{index // 256}.{index % 256}.0/24"), index, ttl=900, now=index)
    assert len(cache) == 10
    assert len(cache._expiry) <= 2 * 10 + 64 + 1
    assert cache.next_deadline() == 4990 + 900
