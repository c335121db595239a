"""MapCache and RegistrationStore under random operation sequences, against simple models."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.registrations import registration
from lispstack.mapping.map_cache import MapCache
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.registrations import RegistrationStore


def _prefix(value: int, length: int) -> EidPrefix:
    value <<= 24
    return EidPrefix(0, IPv4Network((value >> (32 - length) << (32 - length), length)))


prefixes = st.builds(_prefix, st.integers(0, 15), st.integers(0, 8))
addresses = st.integers(0, 15).map(lambda v: IPv4Address((v << 24) + 1))


@dataclass
class Put:
    prefix: EidPrefix
    ttl: int


@dataclass
class Lookup:
    address: IPv4Address


@dataclass
class Expire:
    pass


operations = st.lists(
    st.tuples(
        st.integers(0, 30),  # time step
        st.one_of(
            st.builds(Put, prefixes, st.integers(0, 100)),
            st.builds(Lookup, addresses),
            st.just(Expire()),
        ),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6), operations)
def test_map_cache_against_model(max_entries: int, ops: list[tuple[int, object]]) -> None:
    cache: MapCache[int] = MapCache(max_entries=max_entries)
    expires: dict[EidPrefix, float] = {}  # the model: prefix -> expiry
    used: dict[EidPrefix, float] = {}  # prefix -> recency stamp for LRU
    now = 0.0
    for tick, (step, op) in enumerate(ops, 1):
        now += step
        if isinstance(op, Put):
            evicted = cache.put(op.prefix, op.ttl, ttl=op.ttl, now=now)
            if op.ttl <= 0:
                expires.pop(op.prefix, None)
                used.pop(op.prefix, None)
            else:
                if op.prefix not in expires:
                    used[op.prefix] = tick
                expires[op.prefix] = now + op.ttl
            for entry in evicted:
                assert used[entry.prefix] == min(used.values())
                del expires[entry.prefix], used[entry.prefix]
        elif isinstance(op, Lookup):
            found = cache.lookup(0, op.address, now)
            holding = [p for p in expires if op.address in p.network]
            live = [p for p in holding if now < expires[p]]
            # expired entries met on the way are evicted by the lookup
            for p in holding:
                if now >= expires[p] and p.length > max((q.length for q in live), default=-1):
                    del expires[p], used[p]
            if not live:
                assert found is None
            else:
                best = max(live, key=lambda p: p.length)
                assert found is not None and found.prefix == best
                used[best] = tick
        else:
            gone = cache.expire(now)
            assert sorted(e.prefix for e in gone) == sorted(p for p in expires if now >= expires[p])
            for entry in gone:
                del expires[entry.prefix], used[entry.prefix]
        assert len(cache) <= max_entries
        assert {e.prefix for e in cache} == set(expires)
        assert cache.next_deadline() == (min(expires.values()) if expires else None)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 100),
            prefixes,
            st.sampled_from(["x", "y"]),
            st.integers(0, 300),
            addresses,
        ),
        max_size=60,
    )
)
def test_registration_expiry_against_model(
    ops: list[tuple[int, EidPrefix, str, int, IPv4Address]],
) -> None:
    store = RegistrationStore()
    model: dict[tuple[EidPrefix, str], float] = {}
    now = 0.0
    for step, prefix, etr, lifetime, address in ops:
        now += step
        expired = store.expire(now)
        due = {key for key, expires_at in model.items() if expires_at <= now}
        assert {(r.prefix, r.etr) for r in expired} == due
        for key in due:
            del model[key]
        if lifetime == 0:
            removed = store.remove(prefix, etr)
            assert (removed is not None) == ((prefix, etr) in model)
            model.pop((prefix, etr), None)
        else:
            store.put(
                registration(
                    prefix, etr, site="s", record=lifetime, now=now, expires_at=now + lifetime
                )
            )
            model[(prefix, etr)] = now + lifetime
        assert len(store) == len(model)
        assert store.next_deadline() == (min(model.values()) if model else None)
        live = [key for key, expires_at in model.items() if address in key[0].network]
        found = store.lookup(0, address, now)
        if not live:
            assert found is None
        else:
            longest = max(key[0].length for key in live)
            assert found is not None and found[0].length == longest
            assert {r.etr for r in found[1]} == {e for p, e in live if p.length == longest}
