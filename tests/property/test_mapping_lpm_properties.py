"""PrefixTable against brute force: random tables over several instance-ids and families."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from hypothesis import given, settings
from hypothesis import strategies as st

from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.prefix_table import PrefixTable


def _v4_prefix(iid: int, value: int, length: int) -> EidPrefix:
    # Addresses drawn from a small corner of the space so prefixes nest and collide.
    value <<= 20
    return EidPrefix(iid, IPv4Network((value >> (32 - length) << (32 - length), length)))


def _v6_prefix(iid: int, value: int, length: int) -> EidPrefix:
    value <<= 116
    return EidPrefix(iid, IPv6Network((value >> (128 - length) << (128 - length), length)))


iids = st.sampled_from([0, 0, 1, 2**32 - 1])
prefixes = st.one_of(
    st.builds(_v4_prefix, iids, st.integers(0, 2**12 - 1), st.integers(0, 32)),
    st.builds(_v6_prefix, iids, st.integers(0, 2**12 - 1), st.integers(0, 128)),
)
addresses: st.SearchStrategy[tuple[int, IPAddress]] = st.one_of(
    st.tuples(iids, st.integers(0, 2**32 - 1).map(IPv4Address)),
    st.tuples(iids, st.integers(0, 2**12 - 1).map(lambda v: IPv4Address(v << 20))),
    st.tuples(iids, st.integers(0, 2**12 - 1).map(lambda v: IPv6Address(v << 116))),
)


def _holds(prefix: EidPrefix, iid: int, address: IPAddress) -> bool:
    return prefix.iid == iid and prefix.family == address.version and address in prefix.network


@settings(max_examples=300, deadline=None)
@given(st.lists(prefixes, max_size=40), st.lists(prefixes, max_size=10), st.lists(addresses))
def test_lookup_matches_brute_force(
    inserted: list[EidPrefix], removed: list[EidPrefix], probes: list[tuple[int, IPAddress]]
) -> None:
    table: PrefixTable[str] = PrefixTable()
    model: dict[EidPrefix, str] = {}
    for prefix in inserted:
        table[prefix] = str(prefix)
        model[prefix] = str(prefix)
    for prefix in removed:
        assert table.pop(prefix) == model.pop(prefix, None)
    assert len(table) == len(model)
    assert list(table) == sorted(model)
    for iid, address in probes:
        holding = [p for p in model if _holds(p, iid, address)]
        found = table.lookup(iid, address)
        if not holding:
            assert found is None
        else:
            best = max(holding, key=lambda p: p.length)
            assert found == (best, model[best])


@settings(max_examples=200, deadline=None)
@given(st.lists(prefixes, max_size=40), prefixes)
def test_covering_and_more_specifics_match_brute_force(
    inserted: list[EidPrefix], probe: EidPrefix
) -> None:
    table: PrefixTable[None] = PrefixTable()
    for prefix in inserted:
        table[prefix] = None
    stored = set(inserted)
    covering = sorted((p for p in stored if p.contains(probe)), key=lambda p: -p.length)
    assert [p for p, _ in table.covering_all(probe)] == covering
    found = table.covering(probe)
    assert (found[0] if found else None) == (covering[0] if covering else None)
    inside = sorted(p for p in stored if probe.contains(p) and p != probe)
    assert [p for p, _ in table.more_specifics(probe)] == inside
    assert len(table) == len(stored)
