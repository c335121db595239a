"""Policy routing that sends only EID-sourced packets into the TUN device (pyroute2).

For every local EID prefix, two rules, in this order:

    PRIORITY-1:  from <EID prefix> lookup main suppress_prefixlength 0
    PRIORITY:    from <EID prefix> lookup TABLE

The first lets EID-sourced packets follow any *specific* route of the main
table (connected subnets, RLOC routes) natively; only what would have taken
the default route, or had no route at all, falls to TABLE, whose default
route is the TUN device. Packets not sourced from an EID never meet these
rules: that is LISP-eligibility by source address. A negative
"natively-forward" map-cache entry becomes a `throw` route in TABLE, so the
rest of that prefix is routed by the main table instead of entering the TUN.

An instance-id other than 0 (a tenant) has its own routing domain: its own
TUN device and table, and, at INSTANCE_PRIORITY (before the rules above),

    iif <each EID-facing interface of the instance>  lookup ITS TABLE
    iif <its TUN>                                    lookup ITS TABLE

Its table holds a copy of the main table's routes out of its interfaces
(their connected subnets, made when their addresses were set), of protocol
COPY_PROTO, kept in step while the node runs (io/instance_routes.py), and a
default route into its TUN. So what a tenant's hosts send reaches the ITR through
the instance's TUN, which tells the ITR the instance-id, and what the ETR
decapsulates with that instance-id, written to that TUN, is routed to the
tenant's interfaces only: two tenants may use the same EID prefix, and
neither ever falls through to the main table.

Every other route carries the route protocol PROTO (in TABLE, an instance's
table or, for a Proxy-ITR, the main table), so a later
start (or `lispstack cleanup`) can find and remove what a crashed run left
behind. pyroute2's synchronous API may not run inside an asyncio loop: while
the daemon runs, io/native_routes.py calls `apply` from its own thread.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lispstack.io.route_batch import RouteChange, RouteSocket, TableRoute

DEFAULT_TABLE = 4341
DEFAULT_PRIORITY = 4341
INSTANCE_PRIORITY = DEFAULT_PRIORITY - 2
PROTO = 250
COPY_PROTO = 251
"""An instance's copies of main-table routes: they lead out of real interfaces, not a
TUN, so they do not say that a node is running."""
MAIN_TABLE = 254

_FAMILY = {4: 2, 6: 10}  # AF_INET, AF_INET6
IFF_UP = 0x1
IFA_F_UNUSABLE = 0x40 | 0x08
"""IFA_F_TENTATIVE (duplicate address detection not done) and IFA_F_DADFAILED: an IPv6
address that cannot be sent from."""
CARRIER_STATES = ("UP", "UNKNOWN")
"""Operational states of a link that carries packets (a loopback or TUN device says
UNKNOWN); DOWN, LOWERLAYERDOWN (no carrier: a veth whose peer is down), DORMANT do not."""
_STATES = {"throw": "throw", "tun": "dev", "absent": "absent"}


class PolicyRouting:
    def __init__(self, table: int = DEFAULT_TABLE, priority: int = DEFAULT_PRIORITY) -> None:
        self.table = table
        self.priority = priority

    def install(self, eid_prefixes: Iterable[IPv4Network | IPv6Network], tun_index: int) -> None:
        self.cleanup_stale()
        with IPRoute() as ipr:
            self._install(ipr, list(eid_prefixes), tun_index)

    def _install(
        self, ipr: IPRoute, eid_prefixes: list[IPv4Network | IPv6Network], tun_index: int
    ) -> None:
        for prefix in eid_prefixes:
            for rule in self._source_rules(prefix):
                ipr.rule("add", **rule)
        for version in {prefix.version for prefix in eid_prefixes}:
            default = "0.0.0.0/0" if version == 4 else "::/0"
            ipr.route(
                "replace",
                dst=default,
                oif=tun_index,
                table=self.table,
                proto=PROTO,
                family=_FAMILY[version],
            )

    def _source_rules(self, prefix: IPv4Network | IPv6Network) -> list[dict[str, object]]:
        """The two rules of an EID source prefix: the main table first (suppressing its
        default route), then TABLE."""
        source = {
            "family": _FAMILY[prefix.version],
            "src": str(prefix.network_address),
            "src_len": prefix.prefixlen,
        }
        return [
            {**source, "table": MAIN_TABLE, "priority": self.priority - 1, "suppress_prefixlen": 0},
            {**source, "table": self.table, "priority": self.priority},
        ]

    def change_sources(
        self,
        added: Iterable[IPv4Network | IPv6Network],
        removed: Iterable[IPv4Network | IPv6Network],
        tun_index: int,
    ) -> None:
        """A reload changed the database mappings: the rules of the EID prefixes follow."""
        with IPRoute() as ipr:
            for prefix in removed:
                for rule in self._source_rules(prefix):
                    with contextlib.suppress(NetlinkError):  # already gone
                        ipr.rule("del", **rule)
            self._install(ipr, list(added), tun_index)

    def install_instance(
        self, table: int, interfaces: Sequence[str], tun_name: str, tun_index: int
    ) -> None:
        """Give an instance-id its domain: `table`, reached from `interfaces` and its TUN."""
        with IPRoute() as ipr:
            indexes = {_index(ipr, name) for name in interfaces}
            for family in _FAMILY.values():
                for route in ipr.get_routes(family=family, table=MAIN_TABLE):
                    if route.get_attr("RTA_OIF") in indexes and route["type"] == 1:
                        ipr.route("replace", **copied(route, table))
                ipr.route(
                    "replace",
                    dst="0.0.0.0/0" if family == _FAMILY[4] else "::/0",
                    oif=tun_index,
                    table=table,
                    proto=PROTO,
                    family=family,
                )
                for name in (*interfaces, tun_name):
                    ipr.rule(
                        "add", family=family, iifname=name, table=table, priority=INSTANCE_PRIORITY
                    )

    def attract(
        self,
        eid_prefixes: Iterable[IPv4Network | IPv6Network],
        tun_index: int,
        table: int = MAIN_TABLE,
    ) -> None:
        """Proxy-ITR: route traffic towards these EID prefixes into the TUN, in `table`
        (the main table, or that of the prefixes' instance-id)."""
        with IPRoute() as ipr:
            for prefix in eid_prefixes:
                ipr.route(
                    "replace",
                    dst=str(prefix),
                    oif=tun_index,
                    table=table,
                    proto=PROTO,
                    family=_FAMILY[prefix.version],
                )

    def session(self) -> RouteSocket:
        """A netlink socket for `apply` (a context manager)."""
        return RouteSocket()

    def apply(
        self, sock: RouteSocket, changes: Sequence[tuple[str, str]], tun_index: int
    ) -> list[tuple[str, OSError]]:
        """Make TABLE's route of each prefix "throw", "tun" (dev <TUN>) or "absent";
        the prefixes the kernel refused, with why (removing what is not there is fine)."""
        refused = sock.apply(
            RouteChange(prefix, _STATES[state], self.table, PROTO, tun_index)
            for prefix, state in changes
        )
        return [(change.prefix, error) for change, error in refused]

    def cleanup_stale(self) -> list[str]:
        """Remove every rule and route of our table and priorities (ours, or a crashed
        run's); what was removed, one line each in `ip` words."""
        with IPRoute() as ipr:
            return self._cleanup(ipr)

    def _cleanup(self, ipr: IPRoute) -> list[str]:
        """Rules first, so that nothing is routed by the table while it is emptied."""
        removed: list[str] = []
        for family in _FAMILY.values():
            for rule in ipr.get_rules(family=family):
                priority = rule.get_attr("FRA_PRIORITY")
                if priority not in (INSTANCE_PRIORITY, self.priority - 1, self.priority):
                    continue
                table = rule.get_attr("FRA_TABLE") or rule["table"]
                source = rule.get_attr("FRA_SRC")
                match = {"src": source, "src_len": rule["src_len"]}
                where = f"from {source}/{rule['src_len']}"
                if priority == INSTANCE_PRIORITY:
                    match = {"iifname": rule.get_attr("FRA_IIFNAME")}
                    where = f"iif {match['iifname']}"
                with contextlib.suppress(NetlinkError):
                    ipr.rule("del", family=family, priority=priority, table=table, **match)
                    removed.append(f"rule priority {priority} {where} lookup {table}")
        with RouteSocket() as sock:
            for family in _FAMILY.values():
                routes = self._routes(sock, family)
                refused = {change.prefix for change, _ in sock.delete(routes)}
                removed += [
                    f"route {route} table {route.table}"
                    for route in routes
                    if route.prefix not in refused
                ]
        return removed

    def in_use(self) -> bool:
        """Whether a running xTR or PITR routes through our routes: one leads out of
        an interface (its TUN), which the kernel removes with the device."""
        with RouteSocket() as sock:
            return any(
                r.oif and r.protocol != COPY_PROTO
                for f in _FAMILY.values()
                for r in self._routes(sock, f)
            )

    def _routes(self, sock: RouteSocket, family: int) -> list[TableRoute]:
        """Ours: those of TABLE and those of protocol PROTO or COPY_PROTO in any other
        table (the main table's on a Proxy-ITR, the instances' tables)."""
        others = [
            r
            for r in sock.routes_of(family, None)
            if r.protocol in (PROTO, COPY_PROTO) and r.table != self.table
        ]
        return sock.routes_of(family, self.table) + others

    def close(self) -> None:
        self.cleanup_stale()


def _index(ipr: IPRoute, name: str) -> int:
    found: list[int] = ipr.link_lookup(ifname=name)
    if not found:
        raise OSError(errno.ENODEV, f"no interface {name} (in [[instances]])")
    return found[0]


def copied(route: Any, table: int) -> dict[str, object]:
    """The arguments of `ipr.route` that copy a main-table unicast route into `table`."""
    copy: dict[str, object] = {
        "family": route["family"],
        "dst_len": route["dst_len"],
        "scope": route["scope"],
        "table": table,
        "proto": COPY_PROTO,
        "oif": route.get_attr("RTA_OIF"),
    }
    for attribute, key in (
        ("RTA_DST", "dst"),
        ("RTA_GATEWAY", "gateway"),
        ("RTA_PREFSRC", "prefsrc"),
    ):
        value = route.get_attr(attribute)
        if value is not None:
            copy[key] = value
    return copy


def held_addresses(ipr: IPRoute | None = None) -> list[tuple[str, int]]:
    """Every address of this namespace's interfaces, with the ifindex holding it (the one
    reader of the addresses held here: the eBPF engine's RLOC interfaces, the RLOC watch)."""
    if ipr is None:
        with IPRoute() as own:
            return held_addresses(own)
    return [(_local_address(m), m["index"]) for m in ipr.get_addr()]


def node_addresses(
    ipr: IPRoute,
) -> tuple[frozenset[IPv4Address | IPv6Address], frozenset[IPv4Address | IPv6Address]]:
    """(usable, held), from one reading of the addresses: usable, those this node can send
    from and receive on (of interfaces that are up, administratively and with a carrier,
    CARRIER_STATES; IPv6 ones past duplicate address detection); held, every one."""
    up = {
        link["index"]
        for link in ipr.get_links()
        if link["flags"] & IFF_UP and link.get_attr("IFLA_OPERSTATE") in CARRIER_STATES
    }
    usable: set[IPv4Address | IPv6Address] = set()
    held: set[IPv4Address | IPv6Address] = set()
    for message in ipr.get_addr():
        address = ip_address(_local_address(message))
        held.add(address)
        flags = message.get_attr("IFA_FLAGS") or message["flags"]
        if message["index"] in up and not flags & IFA_F_UNUSABLE:
            usable.add(address)
    return frozenset(usable), frozenset(held)


def _local_address(message: Any) -> str:
    """An address notification's own address (on a point-to-point link IFA_ADDRESS is the
    peer's, IFA_LOCAL ours)."""
    address: str = message.get_attr("IFA_LOCAL") or message.get_attr("IFA_ADDRESS")
    return address
