"""The bounded cache: a table that starts afresh when full, read as a plain dict."""

from __future__ import annotations

import pytest

from lispstack.bounded_cache import BoundedCache


def test_reads_go_to_a_plain_dict_that_stays_the_same_object() -> None:
    """A hit is one lookup in an exact dict (what CPython specialises), and a
    reference to `entries` taken once stays valid however often the cache fills."""
    cache: BoundedCache[int, int] = BoundedCache(2)
    entries = cache.entries
    assert type(entries) is dict
    for key in range(10):
        cache.put(key, key)
        cache.shared(-key, key)
    assert cache.entries is entries
    assert not hasattr(cache, "__dict__")


def test_put_stores_and_returns_the_value() -> None:
    cache: BoundedCache[str, list[int]] = BoundedCache(4)
    value = [1]
    assert cache.put("a", value) is value
    assert cache.entries.get("a") is value and cache.entries["a"] is value
    assert cache.entries.get("b") is None


def test_a_full_cache_starts_afresh_on_the_next_put() -> None:
    cache: BoundedCache[int, int] = BoundedCache(3)
    for key in range(3):
        cache.put(key, key * 10)
    assert cache.entries == {0: 0, 1: 10, 2: 20}
    cache.put(3, 30)
    assert cache.entries == {3: 30}
    for key in range(4, 100):
        cache.put(key, key)
        assert 1 <= len(cache.entries) <= 3


def test_shared_gives_the_first_equal_value() -> None:
    cache: BoundedCache[tuple[int, ...], tuple[int, ...]] = BoundedCache(2)
    first = tuple([1, 2])
    second = tuple([1, 2])
    assert first is not second
    assert cache.shared(first, first) is first
    assert cache.shared(second, second) is first
    assert len(cache.entries) == 1


def test_shared_is_bounded_too() -> None:
    cache: BoundedCache[int, str] = BoundedCache(2)
    cache.shared(1, "one")
    cache.shared(2, "two")
    assert cache.shared(3, "three") == "three"
    assert cache.entries == {3: "three"}


@pytest.mark.parametrize("limit", [0, -1])
def test_a_cache_holds_at_least_one_entry(limit: int) -> None:
    with pytest.raises(ValueError, match="at least one"):
        BoundedCache(limit)
