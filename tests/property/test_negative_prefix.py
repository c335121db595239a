"""The negative-reply prefix against a brute-force reference, on random site tables."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from hypothesis import given, settings
from hypothesis import strategies as st

from lispstack.mapping.negative_prefix import NegativePrefixFinder
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.prefix_table import PrefixTable

networks = st.builds(
    lambda address, length: IPv4Network((address >> (32 - length) << (32 - length), length)),
    st.integers(0, 2**32 - 1),
    st.integers(1, 32),
)


def _brute_force(sites: list[IPv4Network], eid: IPv4Address) -> IPv4Network:
    """Try every length from /0 on: the first prefix holding the EID and no site."""
    for length in range(33):
        candidate = IPv4Network((int(eid) >> (32 - length) << (32 - length), length))
        if not any(candidate.overlaps(site) for site in sites):
            return candidate
    raise AssertionError("the EID itself overlaps a site")


@settings(max_examples=300, deadline=None)
@given(st.lists(networks, max_size=30), st.integers(0, 2**32 - 1))
def test_matches_brute_force(sites: list[IPv4Network], value: int) -> None:
    eid = IPv4Address(value)
    if any(eid in site for site in sites):
        return  # covered EIDs get the site rule, not this one
    finder = NegativePrefixFinder([EidPrefix(0, site) for site in sites])
    assert finder.find(0, eid).network == _brute_force(sites, eid)


@settings(max_examples=200, deadline=None)
@given(st.lists(networks, min_size=1, max_size=40), st.integers(0, 2**32 - 1))
def test_longest_prefix_match_matches_brute_force(sites: list[IPv4Network], value: int) -> None:
    table: PrefixTable[int] = PrefixTable()
    for index, site in enumerate(sites):
        table[EidPrefix(0, site)] = index
    eid = IPv4Address(value)
    found = table.lookup(0, eid)
    holding = [site for site in sites if eid in site]
    if not holding:
        assert found is None
    else:
        assert found is not None
        assert found[0].network == max(holding, key=lambda n: n.prefixlen)
