"""The Map-Server's runtime site table, built from the configured `[[sites]]`.

Who may register which EID prefixes, with which keys:
- every configured EID prefix (any instance-id, IPv4 or IPv6) in one
  PrefixTable, so that the site of a registered prefix or of a requested EID
  is one longest-prefix match;
- the keys of each site by key id, each with its HMAC state (the keyed
  hash objects, so that each message skips the key schedule);
- the negative-reply finder over every configured prefix (the least-specific
  prefix holding an EID that overlaps none of them, in O(log n)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lispstack.config.model import Site, SiteKey
from lispstack.mapping.negative_prefix import NegativePrefixFinder
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.prefix_table import PrefixTable
from lispstack.wire.auth import AlgorithmId, HmacKey


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

    def not_registered_prefix(self, iid: int, eid: IPAddress) -> EidPrefix:
        """The prefix of a negative reply while nothing live covers `eid` in this site.

        The configured prefix; the host prefix when the site accepts
        more-specifics (a registered more-specific elsewhere in the
        configured prefix must not be shadowed).
        """
        if self.site.accept_more_specifics:
            return EidPrefix.host(iid, eid)
        return self.prefix


@dataclass(frozen=True, slots=True)
class SiteSecret:
    """A site key as configured, and its HMAC state."""

    config: SiteKey
    hmac: HmacKey


class SiteTable:
    """Configured sites, their prefixes (longest-prefix match) and keys (by key id)."""

    __slots__ = ("_keys", "_negative", "_prefixes", "_previous", "sites")

    def __init__(self, sites: Sequence[Site]) -> None:
        self.sites = tuple(sites)
        self._prefixes: PrefixTable[SitePrefix] = PrefixTable()
        self._keys: dict[str, dict[int, SiteSecret]] = {}
        self._previous: dict[tuple[str, int], tuple[SiteSecret, float]] = {}
        """Keys a reload replaced, still accepted until the time given (previous-key-grace)."""
        configured: list[EidPrefix] = []
        for site in self.sites:
            self._keys[site.name] = {
                key.key_id: SiteSecret(key, HmacKey(key.key)) for key in site.keys
            }
            for config_prefix in site.eid_prefixes:
                prefix = EidPrefix(config_prefix.iid, config_prefix.network)
                self._prefixes[prefix] = SitePrefix(prefix, site)
                configured.append(prefix)
        self._negative = NegativePrefixFinder(configured)

    def site_for(self, prefix: EidPrefix) -> SitePrefix | None:
        """The most specific configured prefix covering `prefix` (itself included)."""
        found = self._prefixes.covering(prefix)
        return None if found is None else found[1]

    def site_for_eid(self, iid: int, eid: IPAddress) -> SitePrefix | None:
        """The most specific configured prefix holding `eid`."""
        found = self._prefixes.lookup(iid, eid)
        return None if found is None else found[1]

    def key(self, site: Site, key_id: int) -> SiteSecret | None:
        """The site's key with this key id, or None."""
        return self._keys[site.name].get(key_id)

    def previous_key(self, site: Site, key_id: int, now: float) -> SiteSecret | None:
        """The key a reload replaced under this key id, while its grace period lasts."""
        previous = self._previous.get((site.name, key_id))
        if previous is None or now >= previous[1]:
            return None
        return previous[0]

    def keep_previous_keys(self, old: SiteTable, now: float) -> None:
        """After a reload from `old`: the keys it held that this table changed stay
        accepted for their site's `previous-key-grace` (and those `old` still kept)."""
        for site in self.sites:
            if site.previous_key_grace == 0 or site.name not in old._keys:
                continue
            for key_id, secret in self._keys[site.name].items():
                replaced = old._keys[site.name].get(key_id)
                if replaced is not None and replaced.config != secret.config:
                    self._previous[site.name, key_id] = (replaced, now + site.previous_key_grace)
                elif (site.name, key_id) in old._previous:
                    self._previous[site.name, key_id] = old._previous[site.name, key_id]

    def negative_prefix(self, iid: int, eid: IPAddress) -> EidPrefix:
        """The least-specific prefix holding `eid` that overlaps no configured prefix."""
        return self._negative.find(iid, eid)

    def prefixes_of(self, site: Site) -> tuple[EidPrefix, ...]:
        return tuple(EidPrefix(p.iid, p.network) for p in site.eid_prefixes)


def key_accepts(key: SiteKey, algorithm: AlgorithmId) -> bool:
    """Does `key` allow this algorithm? A key without one takes either HMAC.

    (Algorithm "none" then fails verification, as an authentication failure.)
    """
    if key.algorithm is None:
        return True
    return key.algorithm.algorithm_id == algorithm
