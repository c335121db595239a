"""Checks across the EID prefixes of `[[sites]]`: one site per prefix, and no overlap.

Two sites overlap when a prefix of one lies inside a prefix of the other
(same instance-id and family). The Map-Server then gives the more specific
prefix's site the registrations and Map-Requests inside it, which is what a
delegation of part of a site's space to another site wants, and a mistake
otherwise: it is an error unless the inner site says `allow-overlap = true`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from lispstack.config.model import Site
from lispstack.config.prefix import ConfigPrefix
from lispstack.config.table import Table, join


class _Placed(NamedTuple):
    """A site prefix as it sorts (a covering prefix before what it covers), and where it is."""

    iid: int
    version: int
    address: int
    length: int
    site: int
    position: int
    prefix: ConfigPrefix

    def covers(self, other: _Placed) -> bool:
        if (self.iid, self.version) != (other.iid, other.version) or self.length > other.length:
            return False
        bits = self.prefix.network.max_prefixlen
        return (self.address ^ other.address) >> (bits - self.length) == 0


def _path(site: int, index: int) -> str:
    return join(join(join("sites", site), "eid-prefixes"), index)


def check_site_prefixes(root: Table, sites: Sequence[Site]) -> None:
    """An EID prefix belongs to one site only, and lies in no other site's unless allowed."""
    owner: dict[ConfigPrefix, int] = {}
    placed: list[_Placed] = []
    for site_index, site in enumerate(sites):
        for index, prefix in enumerate(site.eid_prefixes):
            if prefix in owner:
                raise root.child_error(
                    _path(site_index, index),
                    f"EID prefix {prefix} already belongs to sites[{owner[prefix]}]",
                )
            owner[prefix] = site_index
            network = prefix.network
            placed.append(
                _Placed(
                    prefix.iid,
                    network.version,
                    int(network.network_address),
                    network.prefixlen,
                    site_index,
                    index,
                    prefix,
                )
            )
    placed.sort()
    covering: list[_Placed] = []  # the prefixes covering the current one, outermost first
    for inner in placed:
        while covering and not covering[-1].covers(inner):
            covering.pop()
        outer = next((c for c in reversed(covering) if c.site != inner.site), None)
        if outer is not None and not sites[inner.site].allow_overlap:
            inner_name, outer_name = sites[inner.site].name, sites[outer.site].name
            raise root.child_error(
                _path(inner.site, inner.position),
                f"EID prefix {inner.prefix} of site {inner_name!r} lies inside {outer.prefix}"
                f" of site {outer_name!r} ({_path(outer.site, outer.position)});"
                f" if {outer_name!r} delegates it, set allow-overlap = true in site {inner_name!r}",
            )
        covering.append(inner)
