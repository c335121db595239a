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

Everything carries the route protocol PROTO and lives in TABLE, so a later
start can find and remove what a crashed run left behind. Each operation
opens its own netlink socket: pyroute2's synchronous API may not run inside
an asyncio loop, so the daemon calls these from a worker thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_network

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

DEFAULT_TABLE = 4341
DEFAULT_PRIORITY = 4341
PROTO = 250
MAIN_TABLE = 254

_FAMILY = {4: 2, 6: 10}  # AF_INET, AF_INET6


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
            family = _FAMILY[prefix.version]
            source = str(prefix.network_address)
            ipr.rule(
                "add",
                family=family,
                src=source,
                src_len=prefix.prefixlen,
                table=254,
                priority=self.priority - 1,
                suppress_prefixlen=0,
            )
            ipr.rule(
                "add",
                family=family,
                src=source,
                src_len=prefix.prefixlen,
                table=self.table,
                priority=self.priority,
            )
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

    def attract(self, eid_prefixes: Iterable[IPv4Network | IPv6Network], tun_index: int) -> None:
        """Proxy-ITR: route traffic towards these EID prefixes into the TUN (main table)."""
        with IPRoute() as ipr:
            for prefix in eid_prefixes:
                ipr.route(
                    "replace",
                    dst=str(prefix),
                    oif=tun_index,
                    proto=PROTO,
                    family=_FAMILY[prefix.version],
                )

    def add_native(self, prefix: str) -> None:
        network = ip_network(prefix)
        with IPRoute() as ipr:
            ipr.route(
                "replace",
                dst=str(network),
                type="throw",
                table=self.table,
                proto=PROTO,
                family=_FAMILY[network.version],
            )

    def remove_native(self, prefix: str) -> None:
        network = ip_network(prefix)
        with IPRoute() as ipr, contextlib.suppress(NetlinkError):
            ipr.route(
                "del",
                dst=str(network),
                type="throw",
                table=self.table,
                family=_FAMILY[network.version],
            )

    def cleanup_stale(self) -> None:
        """Remove every rule and route of our table and priorities (ours, or a crashed run's)."""
        with IPRoute() as ipr:
            self._cleanup(ipr)

    def _cleanup(self, ipr: IPRoute) -> None:
        for family in _FAMILY.values():
            for rule in ipr.get_rules(family=family):
                if rule.get_attr("FRA_PRIORITY") in (self.priority - 1, self.priority):
                    with contextlib.suppress(NetlinkError):
                        ipr.rule(
                            "del",
                            family=family,
                            priority=rule.get_attr("FRA_PRIORITY"),
                            table=rule.get_attr("FRA_TABLE") or rule["table"],
                            src=rule.get_attr("FRA_SRC"),
                            src_len=rule["src_len"],
                        )
            for route in ipr.get_routes(family=family, table=self.table):
                with contextlib.suppress(NetlinkError):
                    ipr.route("del", **_route_key(route, self.table, family))
            for route in ipr.get_routes(family=family, table=MAIN_TABLE):
                if route.get_attr("RTA_TABLE") == MAIN_TABLE and route["proto"] == PROTO:
                    with contextlib.suppress(NetlinkError):
                        ipr.route("del", **_route_key(route, MAIN_TABLE, family))

    def close(self) -> None:
        self.cleanup_stale()


def _route_key(route: object, table: int, family: int) -> dict[str, object]:
    dst = route.get_attr("RTA_DST")  # type: ignore[attr-defined]
    length = route["dst_len"]  # type: ignore[index]
    key: dict[str, object] = {"table": table, "family": family, "type": route["type"]}  # type: ignore[index]
    key["dst"] = f"{dst}/{length}" if dst else ("0.0.0.0/0" if family == 2 else "::/0")
    return key
