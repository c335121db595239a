"""XtrCache, the ITR's map-cache: TTL, longest-prefix lookup, LRU bound, replacement, deadlines
and the native-route standing of natively-forward entries."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address

import pytest

from lispstack.core.xtr_cache import CacheEntry, Changes, XtrCache
from lispstack.wire.records import Locator, MappingRecord, MapReplyAction

A = IPv4Address


def record(
    prefix: str, *rlocs: str, ttl: int = 1, action: MapReplyAction = MapReplyAction.NO_ACTION
) -> MappingRecord:
    network, length = prefix.split("/")
    return MappingRecord(
        eid=ip_address(network),
        eid_mask_len=int(length),
        ttl=ttl,
        action=action,
        locators=tuple(Locator(address=ip_address(r)) for r in rlocs),
    )


def native(prefix: str, ttl: int = 1) -> MappingRecord:
    return record(prefix, ttl=ttl, action=MapReplyAction.NATIVELY_FORWARD)


def prefixes(entries: list[CacheEntry]) -> list[str]:
    return [e.prefix_text for e in entries]


def routes(changes: Changes) -> list[tuple[bool, str]]:
    return [(routed, e.prefix_text) for routed, e in changes.routes]


def test_lookup_longest_match_and_negative_entries() -> None:
    cache = XtrCache()
    cache.insert(native("0.0.0.0/1", ttl=15), 0, "ms")
    cache.insert(record("192.168.2.0/24", "10.0.2.2", ttl=1440), 0, "etr")
    hit = cache.find(0, A("192.168.2.1"), 1)
    assert hit is not None and hit.prefix_text == "192.168.2.0/24"
    assert [str(r.address) for r in hit.rlocs] == ["10.0.2.2"] and hit.source == "etr"
    negative = cache.lookup(0, 4, int(A("4.2.2.2")), 1)
    assert (
        negative is not None
        and negative.negative
        and negative.action is MapReplyAction.NATIVELY_FORWARD
    )
    assert cache.find(0, A("192.168.3.1"), 1) is None
    assert cache.find(1, A("4.2.2.2"), 1) is None


def test_expired_entries_are_never_returned_and_stay_until_expire() -> None:
    cache = XtrCache()
    cache.insert(record("10.0.0.0/8", "10.9.9.1", ttl=100), 0, "x")
    cache.insert(record("10.1.0.0/16", "10.9.9.2", ttl=10), 0, "x")
    assert prefixes([cache.find(0, A("10.1.1.1"), 599.9)]) == ["10.1.0.0/16"]  # type: ignore[list-item]
    assert prefixes([cache.find(0, A("10.1.1.1"), 600)]) == ["10.0.0.0/8"]  # type: ignore[list-item]
    assert len(cache) == 2
    assert cache.find(0, A("10.1.1.1"), 6000) is None
    assert prefixes(cache.expire(6000).removed) == ["10.1.0.0/16", "10.0.0.0/8"]
    assert len(cache) == 0


def test_expire_and_next_expiry() -> None:
    cache = XtrCache()
    assert cache.next_expiry() is None
    cache.insert(record("10.0.0.0/8", "10.9.9.1", ttl=3), 0, "x")
    cache.insert(record("11.0.0.0/8", "10.9.9.1", ttl=1), 0, "x")
    cache.insert(record("12.0.0.0/8", "10.9.9.1", ttl=2), 0, "x")
    assert cache.next_expiry() == 60
    assert cache.expire(59).removed == []
    assert prefixes(cache.expire(120).removed) == ["11.0.0.0/8", "12.0.0.0/8"]
    assert cache.next_expiry() == 180
    assert prefixes(cache.clear().removed) == ["10.0.0.0/8"]
    assert cache.next_expiry() is None and cache.expire(1000).removed == []


def test_replacement_moves_the_deadline_and_keeps_creation_when_unchanged() -> None:
    cache = XtrCache()
    cache.insert(record("10.0.0.0/8", "10.9.9.1"), 0, "x")
    same, _ = cache.insert(record("10.0.0.0/8", "10.9.9.1"), 50, "x")
    assert (same.created, same.expires) == (0, 110)
    assert cache.next_expiry() == 110  # the first deadline (60) is stale
    assert cache.expire(60).removed == [] and len(cache) == 1
    changed, _ = cache.insert(record("10.0.0.0/8", "10.9.9.2"), 70, "y")
    assert (changed.created, changed.source) == (70, "y")
    assert cache.get(changed.key) is changed


def test_ttl_zero_is_not_cached_and_removes_the_prefix() -> None:
    cache = XtrCache()
    cache.insert(record("10.0.0.0/8", "10.9.9.1"), 0, "x")
    entry, changes = cache.insert(record("10.0.0.0/8", "10.9.9.1", ttl=0), 1, "x")
    assert prefixes(changes.removed) == ["10.0.0.0/8"] and len(cache) == 0
    assert entry.prefix_text == "10.0.0.0/8" and cache.get(entry.key) is None
    cache.insert(record("11.0.0.0/8", "10.9.9.1", ttl=0), 1, "x")
    assert len(cache) == 0 and cache.next_expiry() is None


def test_lru_bound_evicts_least_recently_used() -> None:
    cache = XtrCache(limit=3)
    for index in range(3):
        _, changes = cache.insert(record(f"10.{index}.0.0/16", "10.9.9.1"), index, "x")
        assert changes.removed == []
    cache.lookup(0, 4, int(A("10.0.0.1")), 10)  # 10.0/16 becomes the most recently used
    _, changes = cache.insert(record("10.3.0.0/16", "10.9.9.1"), 11, "x")
    assert prefixes(changes.removed) == ["10.1.0.0/16"]
    assert prefixes(cache.entries()) == ["10.0.0.0/16", "10.2.0.0/16", "10.3.0.0/16"]


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        XtrCache(limit=0)


def test_churn_keeps_the_expiry_heap_small() -> None:
    cache = XtrCache(limit=10)
    for index in range(5000):
        cache.insert(record(f"10.{index // 256}.{index % 256}.0/24", "10.9.9.1"), index, "x")
    assert len(cache) == 10
    assert cache.expiry_backlog() <= 2 * 10 + 64 + 1
    assert cache.next_expiry() == 4990 + 60


def test_a_native_prefix_has_a_route_while_nothing_of_another_kind_lies_inside() -> None:
    cache = XtrCache()
    _, changes = cache.insert(native("0.0.0.0/1"), 0, "ms")
    assert routes(changes) == [(True, "0.0.0.0/1")]
    _, changes = cache.insert(native("10.0.0.0/8"), 0, "ms")  # native inside native: both
    assert routes(changes) == [(True, "10.0.0.0/8")]
    _, changes = cache.insert(record("10.1.0.0/16", "10.9.9.1", ttl=2), 0, "etr")
    assert routes(changes) == [(False, "10.0.0.0/8"), (False, "0.0.0.0/1")]
    _, changes = cache.insert(record("10.1.0.0/16", ttl=2, action=MapReplyAction.DROP), 1, "etr")
    assert routes(changes) == []  # still another kind
    _, changes = cache.insert(native("10.1.0.0/16", ttl=2), 2, "etr")
    assert routes(changes) == [(True, "10.1.0.0/16"), (True, "10.0.0.0/8"), (True, "0.0.0.0/1")]
    _, changes = cache.insert(record("10.1.0.0/16", "10.9.9.1", ttl=1), 3, "etr")
    assert routes(changes) == [(False, "10.1.0.0/16"), (False, "10.0.0.0/8"), (False, "0.0.0.0/1")]
    # the /8 and /1 expire with the /16 at 60; a fresh /1 above a cached positive: no route
    assert routes(cache.expire(60)) == []
    assert prefixes(cache.entries()) == ["10.1.0.0/16"]
    _, changes = cache.insert(native("0.0.0.0/1"), 61, "ms")
    assert routes(changes) == []
    assert routes(cache.expire(63)) == [(True, "0.0.0.0/1")]
    assert routes(cache.clear()) == [(False, "0.0.0.0/1")]
