"""The Map-Server's configured sites: who may register which EID prefixes, with which keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lispstack.config.model import Site, SiteKey
from lispstack.mapping.negative_prefix import NegativePrefixFinder
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.prefix_table import PrefixTable


@dataclass(frozen=True, slots=True)
class SitePrefix:
    """One configured EID prefix and the site it belongs to."""

    prefix: EidPrefix
    site: Site

    def allows(self, registered: EidPrefix) -> bool:
        """May the site register `registered` (exact, or more specific when allowed)?"""
        if registered == self.prefix:
            return True
        return self.site.accept_more_specifics and self.prefix.contains(registered)


class SiteTable:
    __slots__ = ("_keys", "_negative", "_prefixes", "sites")

    def __init__(self, sites: Sequence[Site]) -> None:
        self.sites = tuple(sites)
        self._prefixes: PrefixTable[SitePrefix] = PrefixTable()
        self._keys: dict[str, dict[int, SiteKey]] = {}
        configured = []
        for site in sites:
            self._keys[site.name] = {key.key_id: key for key in site.keys}
            for config_prefix in site.eid_prefixes:
                prefix = EidPrefix(config_prefix.iid, config_prefix.network)
                self._prefixes[prefix] = SitePrefix(prefix, site)
                configured.append(prefix)
        self._negative = NegativePrefixFinder(configured)

    def site_for(self, prefix: EidPrefix) -> SitePrefix | None:
        """The most specific configured prefix covering `prefix`."""
        found = self._prefixes.covering(prefix)
        return None if found is None else found[1]

    def site_for_eid(self, iid: int, eid: IPAddress) -> SitePrefix | None:
        found = self._prefixes.lookup(iid, eid)
        return None if found is None else found[1]

    def key(self, site: Site, key_id: int) -> SiteKey | None:
        return self._keys[site.name].get(key_id)

    def negative_prefix(self, iid: int, eid: IPAddress) -> EidPrefix:
        """The least-specific prefix holding `eid` that overlaps no configured prefix."""
        return self._negative.find(iid, eid)
