"""Negative-reply prefixes for IPv4 and IPv6 in several instances, against the definition."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from hypothesis import given, settings
from hypothesis import strategies as st

from lispstack.mapping.negative_prefix import NegativePrefixFinder
from lispstack.mapping.prefix import EidPrefix, IPAddress

iids = st.sampled_from([0, 7])


def _prefix(iid: int, family: int, value: int, length: int) -> EidPrefix:
    width = 32 if family == 4 else 128
    value <<= width - 16  # a small corner of the space, so EIDs land near sites
    base = value >> (width - length) << (width - length)
    network = IPv4Network((base, length)) if family == 4 else IPv6Network((base, length))
    return EidPrefix(iid, network)


def _sites(family: int) -> st.SearchStrategy[list[EidPrefix]]:
    width = 32 if family == 4 else 128
    one = st.builds(
        _prefix, iids, st.just(family), st.integers(0, 2**16 - 1), st.integers(1, width)
    )
    return st.lists(one, max_size=30)


def _eid(family: int) -> st.SearchStrategy[IPAddress]:
    if family == 4:
        return st.one_of(
            st.integers(0, 2**32 - 1).map(IPv4Address),
            st.integers(0, 2**16 - 1).map(lambda v: IPv4Address((v << 16) + 1)),
        )
    return st.one_of(
        st.integers(0, 2**128 - 1).map(IPv6Address),
        st.integers(0, 2**16 - 1).map(lambda v: IPv6Address((v << 112) + 1)),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[EidPrefix], int, IPAddress]:
    family = draw(st.sampled_from([4, 6]))
    return draw(_sites(family)), draw(iids), draw(_eid(family))


@settings(max_examples=400, deadline=None)
@given(cases())
def test_least_specific_non_overlapping(case: tuple[list[EidPrefix], int, IPAddress]) -> None:
    sites, iid, eid = case
    host = EidPrefix.host(iid, eid)
    if any(site.contains(host) for site in sites):
        return  # a covered EID gets the site rule, not this one
    answer = NegativePrefixFinder(sites).find(iid, eid)
    assert answer.iid == iid and answer.family == eid.version
    assert answer.contains(host)
    assert not any(answer.overlaps(site) for site in sites)
    parent = answer.parent()
    assert parent is None or any(parent.overlaps(site) for site in sites)
    if parent is None:
        assert not any(site.iid == iid and site.family == eid.version for site in sites)


@settings(max_examples=200, deadline=None)
@given(cases(), st.data())
def test_incremental_changes_match_a_fresh_build(
    case: tuple[list[EidPrefix], int, IPAddress], data: st.DataObject
) -> None:
    sites, iid, eid = case
    finder = NegativePrefixFinder()
    kept: list[EidPrefix] = []
    for site in sites:
        finder.add(site)
        kept.append(site)
        if data.draw(st.booleans()):
            finder.find(iid, eid)  # forces a sort between changes
        if data.draw(st.booleans()) and kept:
            gone = kept.pop(data.draw(st.integers(0, len(kept) - 1)))
            finder.remove(gone)
    if any(site.contains(EidPrefix.host(iid, eid)) for site in kept):
        return
    assert finder.find(iid, eid) == NegativePrefixFinder(kept).find(iid, eid)
    assert len(finder) == len(kept)
