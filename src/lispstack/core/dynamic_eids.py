"""Moving EIDs: the host EIDs an xTR has seen inside its dynamic prefixes.

A `[[database-mappings]]` entry with `dynamic = true` is a dynamic prefix. It
is never registered itself; each host EID (/32, /128) inside it is, with the
mapping's RLOCs, from the moment the xTR sees the host until it leaves.

Seeing a host: the policy rules of io/netlink.py route every packet sourced
from a local EID prefix, and bound off-site, into the TUN device, so the ITR
sees the first packet of a new host (`learn`) and every later one (which
refreshes it). That works for hosts routed from further inside the site as
well as for hosts on the xTR's own link, which a neighbour (ARP/ND) watch
would not, and needs no netlink listener. A host that never sends off-site
is not learned, and other sites cannot reach it until it does.

Leaving: a host silent for the mapping's `dynamic-timeout` seconds is
withdrawn (`expire`); a host the Map-Server says another xTR registered has
moved (`forget`). Bounded: a mapping holds at most `dynamic-limit` hosts, so a
flood of spoofed sources cannot register thousands of host EIDs; `learn`
refuses the rest (the ETR counts them).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from lispstack.config.prefix import ConfigPrefix
from lispstack.core.events import IPAddress
from lispstack.core.local_eids import LocalPrefix
from lispstack.wire.address import split_instance_id
from lispstack.wire.records import MappingRecord

_HostKey = tuple[int, int, int]
"""(instance-id, IP version, address)."""


class Learned(Enum):
    NEW = "new"
    KNOWN = "known"
    FULL = "full"
    """The dynamic prefix holds `dynamic-limit` hosts already: refused."""


@dataclass(slots=True)
class DynamicEid:
    """A host seen inside a dynamic prefix: its host prefix (with the mapping's RLOCs)."""

    host: LocalPrefix
    parent: LocalPrefix
    first_seen: float
    last_seen: float


def host_prefix(parent: LocalPrefix, address: int) -> LocalPrefix:
    """The host prefix (/32 or /128) of `address` inside `parent`, with its RLOCs."""
    length = 32 if parent.version == 4 else 128
    network = IPv4Network((address, 32)) if parent.version == 4 else IPv6Network((address, 128))
    mapping = replace(
        parent.mapping, eid_prefix=ConfigPrefix(iid=parent.iid, network=network), dynamic=False
    )
    return LocalPrefix(parent.iid, parent.version, address, length, mapping, parent.down)


class DynamicEids:
    """The hosts of each dynamic prefix, least recently seen first."""

    __slots__ = ("_by_parent", "_hosts", "prefixes")

    def __init__(self, prefixes: Sequence[LocalPrefix]) -> None:
        self.prefixes = tuple(p for p in prefixes if p.mapping.dynamic)
        self._by_parent: dict[LocalPrefix, OrderedDict[_HostKey, DynamicEid]] = {
            p: OrderedDict() for p in self.prefixes
        }
        self._hosts: dict[_HostKey, DynamicEid] = {}

    def __len__(self) -> int:
        return len(self._hosts)

    def __iter__(self) -> Iterator[DynamicEid]:
        return iter(list(self._hosts.values()))

    def parent_of(self, iid: int, version: int, address: int) -> LocalPrefix | None:
        """The dynamic prefix holding the address (the most specific), or None."""
        for prefix in self.prefixes:
            if prefix.iid == iid and prefix.holds(version, address):
                return prefix
        return None

    def learn(self, iid: int, version: int, address: int, now: float) -> tuple[Learned, DynamicEid]:
        """A packet from this source, inside a dynamic prefix (`parent_of` found one)."""
        key = (iid, version, address)
        known = self._hosts.get(key)
        if known is not None:
            known.last_seen = now
            self._by_parent[known.parent].move_to_end(key)
            return Learned.KNOWN, known
        parent = self.parent_of(iid, version, address)
        if parent is None:
            raise ValueError("learn: the address is in no dynamic prefix")
        hosts = self._by_parent[parent]
        entry = DynamicEid(host_prefix(parent, address), parent, now, now)
        if len(hosts) >= parent.mapping.dynamic_limit:
            return Learned.FULL, entry
        hosts[key] = entry
        self._hosts[key] = entry
        return Learned.NEW, entry

    def lookup(self, iid: int, version: int, address: int) -> DynamicEid | None:
        return self._hosts.get((iid, version, address))

    def forget(self, iid: int, version: int, address: int) -> DynamicEid | None:
        """The host left (it moved to another xTR): no longer ours."""
        entry = self._hosts.pop((iid, version, address), None)
        if entry is not None:
            del self._by_parent[entry.parent][(iid, version, address)]
        return entry

    def names_a_host(self, records: Sequence[MappingRecord]) -> bool:
        """Whether `records` hold a host of ours: an unsolicited Map-Notify naming one is
        the Map-Server's move notice, not a pub-sub publication."""
        for record in records:
            iid, address = split_instance_id(record.eid)
            if isinstance(address, IPv4Address | IPv6Address) and self.lookup(
                iid, address.version, int(address)
            ):
                return True
        return False

    def moved_away(
        self, records: Sequence[MappingRecord], ours: Sequence[IPAddress]
    ) -> list[DynamicEid]:
        """The hosts of ours that `records` (a move notice) give RLOCs none of which is
        `ours`, forgotten (a record with one of ours is our own registration, echoed)."""
        moved = []
        for record in records:
            iid, address = split_instance_id(record.eid)
            if not isinstance(address, IPv4Address | IPv6Address):
                continue
            if any(locator.address in ours for locator in record.locators):
                continue
            entry = self.forget(iid, address.version, int(address))
            if entry is not None:
                moved.append(entry)
        return moved

    def expire(self, now: float) -> list[DynamicEid]:
        """The hosts silent for their mapping's `dynamic-timeout`, removed."""
        gone: list[DynamicEid] = []
        for parent, hosts in self._by_parent.items():
            timeout = parent.mapping.dynamic_timeout
            while hosts:
                key, entry = next(iter(hosts.items()))
                if now - entry.last_seen < timeout:
                    break
                del hosts[key]
                del self._hosts[key]
                gone.append(entry)
        return gone

    def next_deadline(self) -> float | None:
        """When the least recently seen host of some dynamic prefix times out."""
        return min(
            (
                next(iter(hosts.values())).last_seen + parent.mapping.dynamic_timeout
                for parent, hosts in self._by_parent.items()
                if hosts
            ),
            default=None,
        )

    def with_prefixes(self, prefixes: Sequence[LocalPrefix]) -> DynamicEids:
        """After a reload: the hosts still inside a dynamic prefix, with its new RLOCs."""
        table = DynamicEids(prefixes)
        for entry in sorted(self._hosts.values(), key=lambda e: e.last_seen):
            host = entry.host
            parent = table.parent_of(host.iid, host.version, host.network)
            if parent is None:
                continue
            moved = DynamicEid(
                host_prefix(parent, host.network), parent, entry.first_seen, entry.last_seen
            )
            key = (host.iid, host.version, host.network)
            if len(table._by_parent[parent]) < parent.mapping.dynamic_limit:
                table._by_parent[parent][key] = moved
                table._hosts[key] = moved
        return table
