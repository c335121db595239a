"""The data-plane edge of an xTR: its TUN devices, policy routing and native forwarding.

One TUN device for instance-id 0 (the main routing domain), and one for each
`[[instances]]` entry, whose packets the kernel routes in that instance's
table only (see io/netlink.py): the TUN a packet comes out of tells the ITR
(or PITR) its instance-id, and the ETR (or PETR) writes a decapsulated packet
into the TUN of its instance-id.

Created and closed outside the asyncio loop; while the loop runs, native
routes change the desired state of the xTR's table, which one thread applies
(io/native_routes.py), since pyroute2's synchronous API refuses to run
inside a loop.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Network, IPv6Network

from pyroute2.netlink.exceptions import NetlinkError

from lispstack.config.model import Instance, NodeConfig, NodeRole
from lispstack.core.encapsulation import outer_packet
from lispstack.core.events import Action, IPAddress, SendDatagram
from lispstack.core.itr import Itr
from lispstack.core.local_eids import LocalEids
from lispstack.io.ebpf_engine import EbpfEngine, open_engine
from lispstack.io.ebpf_layout import plane
from lispstack.io.instance_routes import InstanceRouteMirror
from lispstack.io.native_routes import DesiredRoutes, RouteWorker
from lispstack.io.netlink import MAIN_TABLE, PolicyRouting
from lispstack.io.tun import TunDevice
from lispstack.wire.ip_udp import ipv4_udp_unchecked

log = logging.getLogger("lispstack.dataplane")


class DataPlane:
    """Opened at start, closed at stop; `count` records what could not be carried out."""

    def __init__(
        self, config: NodeConfig, count: Callable[[str], None], itr: Itr | None = None
    ) -> None:
        """`itr`: the node's ITR, whose map-cache the eBPF engine's follows."""
        self._count = count
        self._routes: RouteWorker | None = None
        self._instance_routes: InstanceRouteMirror | None = None
        self.tun: TunDevice | None = None
        self.instance_tuns: dict[int, TunDevice] = {}
        """The TUN device of each non-zero instance-id, by instance-id."""
        if config.instances or any(
            config.has_role(r) for r in (NodeRole.ITR, NodeRole.ETR, NodeRole.PITR)
        ):  # a PETR's instances are reached through their TUNs
            self.tun = TunDevice.open(config.tun.device, config.tun.mtu)
        self.routing: PolicyRouting | None = None
        self._raw: dict[int, socket.socket] = {}
        self.engine: EbpfEngine | None = None
        """The eBPF engine ([data-plane] engine): None, the TUN engine carries every packet."""
        try:
            families: set[int] = set()
            if config.has_role(NodeRole.ITR) and self.tun is not None:
                self.routing = PolicyRouting()
                eids = _source_prefixes(config)
                self.routing.install(eids, self.tun.index)
                families = {eid.version for eid in eids}
            if self.tun is not None and config.instances:
                self._instance_routes = InstanceRouteMirror(_instance_tables(config))
                for instance in config.instances:
                    self._open_instance(instance, config.tun.mtu)
            if config.has_role(NodeRole.PITR) and self.tun is not None:
                self._attract(config, self.tun)
            if self.routing is not None and self.tun is not None:
                desired = DesiredRoutes(families)
                self._routes = RouteWorker(self.routing, self.tun.index, desired)
            if self.tun is not None or config.has_role(NodeRole.PETR):
                tuns = {} if self.tun is None else {0: self.tun.index}
                tuns.update({i: t.index for i, t in self.instance_tuns.items()})
                rlocs = LocalEids(config.database_mappings).rlocs
                proxy_rlocs = () if itr is None else itr.local.extra_rlocs
                self.engine = open_engine(config, tuns, rlocs, proxy_rlocs)
                if self.engine is not None and itr is not None:
                    self.engine.follow(itr)
            self._raw[4] = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            raw6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
            self._raw[6] = raw6
        except OSError:
            self.close()
            raise
        log.info("data plane up: TUN %s", self.tun.name if self.tun else "none (PETR only)")

    def reconfigure(self, running: NodeConfig, new: NodeConfig) -> None:
        """A reload: the policy rules of an ITR's EID source prefixes follow its database
        mappings (a failure is logged and counted; the node serves on), and so do the
        eBPF engine's local EIDs and map-cache."""
        # pyroute2's IPRoute (the rules, the engine's look at the addresses held here)
        # runs an event loop of its own: not inside the node's.
        with ThreadPoolExecutor(1) as thread:
            if self.engine is not None:
                thread.submit(self.engine.reconfigure, running, new).result()
            routing, tun = self.routing, self.tun
            if routing is None or tun is None or not new.has_role(NodeRole.ITR):
                return
            before, after = _source_prefixes(running), _source_prefixes(new)
            if before == after:
                return
            added = [p for p in after if p not in before]
            removed = [p for p in before if p not in after]
            done = thread.submit(lambda: routing.change_sources(added, removed, tun.index))
        try:
            done.result()
        except (OSError, NetlinkError) as error:
            self._count("reload.rules-failed")
            log.error("reload: cannot change the policy rules of the EID prefixes: %s", error)

    def _policy_routing(self) -> PolicyRouting:
        if self.routing is None:
            self.routing = PolicyRouting()
            self.routing.cleanup_stale()
        return self.routing

    def _open_instance(self, instance: Instance, mtu: int) -> None:
        tun = TunDevice.open(instance.device, mtu)
        self.instance_tuns[instance.iid] = tun
        self._policy_routing().install_instance(
            instance.table, instance.interfaces, tun.name, tun.index
        )

    def _attract(self, config: NodeConfig, tun: TunDevice) -> None:
        """A PITR's EID prefixes of each instance-id routed into its TUN, in its table
        (`tun` and the main table for instance-id 0)."""
        domains = {0: (tun, MAIN_TABLE)}
        domains.update((i.iid, (self.instance_tuns[i.iid], i.table)) for i in config.instances)
        for iid, (device, table) in domains.items():
            attracted = [p.network for p in config.pitr.eid_prefixes if p.iid == iid]
            if attracted:
                self._policy_routing().attract(attracted, device.index, table)

    def write_to_tun(self, packet: bytes, iid: int = 0) -> None:
        """Into instance-id `iid`'s TUN device, so into that routing domain only."""
        tun = self.tun if iid == 0 else self.instance_tuns.get(iid)
        if tun is None:
            self._count("drop.no-tun")
            return
        try:
            tun.write(packet)
        except OSError:
            self._count("drop.tun-write-failed")

    def send_encapsulated(self, action: SendDatagram) -> None:
        """Send an encapsulated packet with its per-flow outer source port.

        An IPv4 outer header goes out with checksum 0: the raw socket is
        IPPROTO_RAW (IP_HDRINCL), so the kernel fills in the header checksum
        and total length (raw(7)), which saves the checksum in Python on every
        packet. IPv6 needs the UDP checksum, which outer_packet computes.
        """
        source, destination = action.source_address, action.destination
        if source is not None and source.version == 4 and destination.address.version == 4:
            packet = ipv4_udp_unchecked(
                source.packed,
                destination.address.packed,
                action.source_port,
                destination.port,
                action.payload,
            )
        else:
            packet = outer_packet(action)
        self._send_raw(packet, "drop.encap-send-failed")

    def send_ipv4(self, packet: bytes, destination: str) -> None:
        """Send a whole outer IPv4 packet (see Itr.encapsulate_ipv4) to `destination`."""
        try:
            self._raw[4].sendto(packet, (destination, 0))
        except OSError:
            self._count("drop.encap-send-failed")

    def forward_natively(self, packet: bytes) -> None:
        """Re-inject an EID-sourced IP packet; the main table routes it (or refuses it)."""
        if self._send_raw(packet, "native.unreachable"):
            self._count("native.forwarded")

    def _send_raw(self, packet: bytes, failure: str) -> bool:
        version = packet[0] >> 4
        raw = self._raw.get(version)
        if raw is None or len(packet) < (20 if version == 4 else 40):
            self._count("drop.raw-malformed")
            return False
        if version == 4:
            destination = socket.inet_ntop(socket.AF_INET, packet[16:20])
        else:
            destination = socket.inet_ntop(socket.AF_INET6, packet[24:40])
        try:
            raw.sendto(packet, (destination, 0))
        except OSError:
            self._count(failure)
            return False
        return True

    def install_native_route(self, iid: int, prefix: str) -> None:
        if self._routes is not None and iid == 0:
            self._routes.add_native(prefix)

    def remove_native_route(self, iid: int, prefix: str) -> None:
        if self._routes is not None and iid == 0:
            self._routes.remove_native(prefix)

    def follow_rlocs(self, usable: frozenset[IPAddress]) -> None:
        """The addresses usable here changed: the eBPF engine's RLOCs follow."""
        if self.engine is None:
            return
        try:
            self.engine.follow_rlocs(usable)
        except OSError as error:
            self._count("ebpf.local-rlocs-update-failed")
            log.error("cannot update the eBPF engine's RLOCs: %s", error)

    def sync(self) -> None:
        """Carry the ITR's map-cache changes into the kernel (after every event)."""
        if self.engine is not None:
            self.engine.sync(self._count)

    def kernel_used(self, now: float) -> list[Action]:
        """The eBPF engine's map-cache hits, told to the ITR (see EbpfEngine.used)."""
        return [] if self.engine is None else self.engine.used(now)

    def plane_for(self, decision: dict[str, object]) -> str:
        """`show forwarding`: the engine that carries the packets of `decision`."""
        return "tun" if self.engine is None else plane(decision)

    def report(self, count: Callable[[str, int], None]) -> None:
        """Add what the route thread did since the last report ("routes.applied", ...)
        and what the eBPF programs counted ("ebpf.encap.packets", ...)."""
        if self._routes is not None:
            self._routes.report(count)
        if self._instance_routes is not None:
            self._instance_routes.report(count)
        if self.engine is not None:
            self.engine.report(count)

    def close(self) -> None:
        """Stop without waiting for pending route changes: the table goes away whole."""
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        if self._routes is not None:
            self._routes.stop()
            self._routes = None
        if self._instance_routes is not None:
            self._instance_routes.stop()
            self._instance_routes = None
        if self.routing is not None:
            with contextlib.suppress(OSError):
                self.routing.close()
        for raw in self._raw.values():
            raw.close()
        for tun in self.instance_tuns.values():
            tun.close()
        if self.tun is not None:
            self.tun.close()


def _instance_tables(config: NodeConfig) -> dict[int, int]:
    """Interface index -> table of every EID-facing interface of an instance (a missing
    interface is left out: opening the instance then says which)."""
    tables = {}
    for instance in config.instances:
        for name in instance.interfaces:
            with contextlib.suppress(OSError):
                tables[socket.if_nametoindex(name)] = instance.table
    return tables


def _source_prefixes(config: NodeConfig) -> list[IPv4Network | IPv6Network]:
    """The EID prefixes (instance-id 0) whose packets the ITR's policy rules route."""
    return [m.eid_prefix.network for m in config.database_mappings if m.eid_prefix.iid == 0]
