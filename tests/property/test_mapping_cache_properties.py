"""XtrCache (the ITR's map-cache) and RegistrationStore under random operation sequences,
against simple models."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.registrations import registration
from lispstack.core.xtr_cache import CacheEntry, Changes, XtrCache
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.registrations import RegistrationStore
from lispstack.wire.records import Locator, MappingRecord, MapReplyAction


def _prefix(value: int, length: int) -> EidPrefix:
    value <<= 24
    return EidPrefix(0, IPv4Network((value >> (32 - length) << (32 - length), length)))


prefixes = st.builds(_prefix, st.integers(0, 15), st.integers(0, 8))
addresses = st.integers(0, 15).map(lambda v: IPv4Address((v << 24) + 1))
KINDS = {
    "positive": (MapReplyAction.NO_ACTION, (Locator(address=IPv4Address("10.0.2.2")),)),
    "native": (MapReplyAction.NATIVELY_FORWARD, ()),
    "drop": (MapReplyAction.DROP, ()),
}


@dataclass
class Put:
    prefix: EidPrefix
    ttl: int
    """Minutes, as on the wire."""
    kind: str


@dataclass
class Lookup:
    address: IPv4Address


@dataclass
class Expire:
    pass


operations = st.lists(
    st.tuples(
        st.integers(0, 30),  # time step, seconds
        st.one_of(
            st.builds(Put, prefixes, st.sampled_from([0, 1, 15]), st.sampled_from(sorted(KINDS))),
            st.builds(Lookup, addresses),
            st.builds(Lookup, addresses),
            st.just(Expire()),
        ),
    ),
    max_size=80,
)


def _record(op: Put) -> MappingRecord:
    action, locators = KINDS[op.kind]
    network = op.prefix.network
    return MappingRecord(
        eid=network.network_address,
        eid_mask_len=network.prefixlen,
        ttl=op.ttl,
        action=action,
        locators=locators,
    )


def _prefix_of(entry: CacheEntry) -> EidPrefix:
    return EidPrefix.parse(entry.prefix_text)


def _routed(kinds: dict[EidPrefix, str]) -> set[EidPrefix]:
    """Native prefixes holding no prefix of another kind: those a native route may cover."""
    return {
        p
        for p, kind in kinds.items()
        if kind == "native"
        and not any(p.contains(q) and q != p and k != "native" for q, k in kinds.items())
    }


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6), operations)
def test_map_cache_against_model(limit: int, ops: list[tuple[int, object]]) -> None:
    cache = XtrCache(limit=limit)
    expires: dict[EidPrefix, float] = {}  # the model: prefix -> expiry
    kinds: dict[EidPrefix, str] = {}
    used: dict[EidPrefix, float] = {}  # prefix -> recency stamp for LRU
    routed: set[EidPrefix] = set()  # native routes, as the reported changes leave them
    now = 0.0
    for tick, (step, op) in enumerate(ops, 1):
        now += step
        if isinstance(op, Put):
            _, changes = cache.insert(_record(op), now, "test")
            evicted = [_prefix_of(e) for e in changes.removed]
            if op.ttl == 0:
                assert evicted == ([op.prefix] if op.prefix in expires else [])
                for model in (expires, kinds, used):
                    model.pop(op.prefix, None)
            else:
                expires[op.prefix], kinds[op.prefix], used[op.prefix] = (
                    now + op.ttl * 60,
                    op.kind,
                    tick,
                )
                for prefix in evicted:
                    assert used[prefix] == min(used.values())
                    del expires[prefix], kinds[prefix], used[prefix]
        elif isinstance(op, Lookup):
            changes = Changes()
            found = cache.lookup(0, 4, int(op.address), now)
            live = [p for p in expires if op.address in p.network and now < expires[p]]
            if not live:
                assert found is None
            else:
                best = max(live, key=lambda p: p.length)
                assert found is not None and _prefix_of(found) == best
                used[best] = tick
        else:
            changes = cache.expire(now)
            gone = [p for p in expires if now >= expires[p]]
            assert sorted(_prefix_of(e) for e in changes.removed) == sorted(gone)
            for prefix in gone:
                del expires[prefix], kinds[prefix], used[prefix]
        for on, entry in changes.routes:
            assert (_prefix_of(entry) in routed) != on
            (routed.add if on else routed.discard)(_prefix_of(entry))
        assert len(cache) <= limit
        assert {_prefix_of(e) for e in cache.entries()} == set(expires)
        assert cache.next_expiry() == (min(expires.values()) if expires else None)
        assert routed == _routed(kinds)
        assert {_prefix_of(e) for e in cache.entries() if e.native_route} == routed


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
