"""This xTR's own EID space and RLOCs, from the configuration's database-mappings.

The ETR answers for and decapsulates to these EID prefixes; the ITR only
encapsulates packets sourced from them, and sends from these RLOCs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lispstack.config.model import DatabaseMapping
from lispstack.core.events import IPAddress
from lispstack.wire.address import with_instance_id
from lispstack.wire.records import Locator, MappingRecord

AUTHORITATIVE_TTL = 1440


@dataclass(frozen=True, slots=True)
class LocalPrefix:
    iid: int
    version: int
    network: int
    length: int
    mapping: DatabaseMapping

    @property
    def lsb(self) -> int:
        """The locator-status-bits of our data packets from this prefix (RFC 9300 section
        10: which of our site's RLOCs are up, in the order of our mapping record): all of
        them, as this node does not watch its own RLOCs."""
        return (1 << min(len(self.mapping.rlocs), 32)) - 1

    def holds(self, version: int, address: int) -> bool:
        if version != self.version:
            return False
        shift = (32 if version == 4 else 128) - self.length
        return address >> shift == self.network >> shift

    def record(
        self, ttl: int, *, authoritative: bool = True, probed: bool = False
    ) -> MappingRecord:
        """The mapping record for this prefix: our RLOCs, local and reachable."""
        network = self.mapping.eid_prefix.network
        return MappingRecord(
            eid=with_instance_id(self.iid, network.network_address),
            eid_mask_len=network.prefixlen,
            ttl=ttl,
            authoritative=authoritative,
            map_version=self.mapping.map_version,
            locators=tuple(
                Locator(
                    address=r.address,
                    priority=r.priority,
                    weight=r.weight,
                    m_priority=r.m_priority,
                    m_weight=r.m_weight,
                    local=True,
                    probed=probed,
                    reachable=True,
                )
                for r in self.mapping.rlocs
            ),
        )


class LocalEids:
    """Longest-prefix match over the (few) database mappings, and our RLOCs by family."""

    __slots__ = ("extra_rlocs", "iids", "prefixes", "rloc_for", "rlocs")

    def __init__(
        self, mappings: Sequence[DatabaseMapping], extra_rlocs: Sequence[IPAddress] = ()
    ) -> None:
        self.extra_rlocs = tuple(extra_rlocs)
        prefixes = []
        for mapping in mappings:
            network = mapping.eid_prefix.network
            prefixes.append(
                LocalPrefix(
                    mapping.eid_prefix.iid,
                    network.version,
                    int(network.network_address),
                    network.prefixlen,
                    mapping,
                )
            )
        # Longest first, so the first hit is the longest match.
        self.prefixes = tuple(sorted(prefixes, key=lambda p: -p.length))
        self.iids = frozenset(p.iid for p in prefixes)
        """The instance-ids this xTR serves."""
        rlocs: list[IPAddress] = list(extra_rlocs)
        for mapping in mappings:
            for rloc in mapping.rlocs:
                if rloc.address not in rlocs:
                    rlocs.append(rloc.address)
        self.rlocs = tuple(rlocs)
        self.rloc_for: dict[int, IPAddress] = {}
        for address in self.rlocs:
            self.rloc_for.setdefault(address.version, address)

    def with_mappings(self, mappings: Sequence[DatabaseMapping]) -> LocalEids:
        """These database mappings instead (a reload), with the same extra RLOCs."""
        return LocalEids(mappings, self.extra_rlocs)

    @property
    def families(self) -> frozenset[int]:
        return frozenset(self.rloc_for)

    def site_lsb(self, iid: int) -> int:
        """Our locator-status-bits in `iid` where the source prefix is not known (a kernel
        map-cache entry, a proxy's packets): those of our first prefix there, else 1."""
        return next((p.lsb for p in self.prefixes if p.iid == iid), 1)

    def lookup(self, iid: int, version: int, address: int) -> LocalPrefix | None:
        for prefix in self.prefixes:
            if prefix.iid == iid and prefix.holds(version, address):
                return prefix
        return None
