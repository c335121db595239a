"""This xTR's own EID space and RLOCs, from the configuration's database-mappings.

The ETR answers for and decapsulates to these EID prefixes; the ITR only
encapsulates packets sourced from them, and sends from these RLOCs.

The node watches its own RLOCs (io/rloc_watch.py feeds LocalRlocsChanged):
an RLOC this node has held on an interface that is up, and no longer holds
on one (address removed, link down), is down. A down RLOC stays in our mapping
records with the R bit clear (so the locator order, which the
locator-status-bits follow, does not change), its locator-status bit is
clear, and it is never an ITR-RLOC or a source address while another RLOC of
its family is usable. An RLOC never seen held here (a NAT's public address,
say) is never taken down.
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
    down: frozenset[IPAddress] = frozenset()
    """Our RLOCs no longer usable here (see the module's docstring)."""

    @property
    def lsb(self) -> int:
        """The locator-status-bits of our data packets from this prefix (RFC 9300 section
        10: which of our site's RLOCs are up, in the order of our mapping record)."""
        return sum(
            1 << index
            for index, rloc in enumerate(self.mapping.rlocs[:32])
            if rloc.address not in self.down
        )

    def holds(self, version: int, address: int) -> bool:
        if version != self.version:
            return False
        shift = (32 if version == 4 else 128) - self.length
        return address >> shift == self.network >> shift

    def record(
        self, ttl: int, *, authoritative: bool = True, probed: bool = False
    ) -> MappingRecord:
        """The mapping record for this prefix: our RLOCs, local, reachable unless down."""
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
                    reachable=r.address not in self.down,
                )
                for r in self.mapping.rlocs
            ),
        )


class LocalEids:
    """Longest-prefix match over the (few) database mappings, and our RLOCs by family."""

    __slots__ = (
        "down",
        "extra_rlocs",
        "iids",
        "itr_rlocs",
        "mappings",
        "prefixes",
        "rloc_for",
        "rlocs",
        "seen",
        "usable",
    )

    def __init__(
        self,
        mappings: Sequence[DatabaseMapping],
        extra_rlocs: Sequence[IPAddress] = (),
        usable: frozenset[IPAddress] | None = None,
        seen: frozenset[IPAddress] = frozenset(),
    ) -> None:
        """`usable`: the addresses held here on interfaces that are up (None: not
        watched, every RLOC usable); `seen`: our RLOCs seen usable before."""
        self.extra_rlocs = tuple(extra_rlocs)
        self.mappings = tuple(mappings)
        rlocs: list[IPAddress] = list(extra_rlocs)
        for mapping in mappings:
            for rloc in mapping.rlocs:
                if rloc.address not in rlocs:
                    rlocs.append(rloc.address)
        self.rlocs = tuple(rlocs)
        """Every RLOC of ours, as configured (usable or not)."""
        self.usable = usable
        self.seen = seen if usable is None else seen | usable.intersection(rlocs)
        self.down = frozenset() if usable is None else self.seen - usable
        """Our RLOCs held here before and no longer usable."""
        prefixes = []
        for mapping in mappings:
            network = mapping.eid_prefix.network
            down = self.down.intersection(r.address for r in mapping.rlocs)
            prefixes.append(
                LocalPrefix(
                    mapping.eid_prefix.iid,
                    network.version,
                    int(network.network_address),
                    network.prefixlen,
                    mapping,
                    frozenset(down),
                )
            )
        # Longest first, so the first hit is the longest match.
        self.prefixes = tuple(sorted(prefixes, key=lambda p: -p.length))
        self.iids = frozenset(p.iid for p in prefixes)
        """The instance-ids this xTR serves."""
        up = [address for address in self.rlocs if address not in self.down]
        self.itr_rlocs = tuple(up or self.rlocs)
        """The ITR-RLOCs of our Map-Requests: the usable RLOCs (all, if none is)."""
        self.rloc_for: dict[int, IPAddress] = {}
        """The RLOC we send from, by IP version: the first usable one of that family
        (the first configured, if none is)."""
        for address in (*up, *self.rlocs):
            self.rloc_for.setdefault(address.version, address)

    def with_mappings(self, mappings: Sequence[DatabaseMapping]) -> LocalEids:
        """These database mappings instead (a reload), with the same extra RLOCs and
        what the watch of our RLOCs knows."""
        return LocalEids(mappings, self.extra_rlocs, self.usable, self.seen)

    def with_usable(self, usable: frozenset[IPAddress]) -> LocalEids:
        """The addresses usable here changed (LocalRlocsChanged)."""
        return LocalEids(self.mappings, self.extra_rlocs, usable, self.seen)

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
