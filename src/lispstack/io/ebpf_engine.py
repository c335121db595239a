"""The eBPF engine of the data plane: the kernel carries packets, the Python xTR is the slow path.

Loads io/ebpf/lisp.bpf.o through libbpf (io/libbpf.py; the kernel verifier
runs then), fills its maps from the configuration and attaches:
  lisp_encap_tun  to tc egress of every TUN device of an ITR or PITR: what
                  policy routing sends there is encapsulated in the kernel when
                  the map-cache has the answer, and reaches the TUN device (the
                  Python ITR) otherwise;
  lisp_decap      to tc ingress of the interfaces holding an ETR's RLOCs, or
                  a PETR's addresses.
The BPF map-cache follows the ITR's (core/xtr_cache.py records each key it
installs, replaces, removes or whose RLOC reachability changes; `sync` writes
them). Nothing is pinned: the maps live as long as the programs, and a node
killed with SIGKILL leaves only its decapsulation filter, which the next start
replaces and `lispstack cleanup` removes (`detach_stale`).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import socket
from collections.abc import Callable, Iterable
from ipaddress import ip_address
from pathlib import Path

from pyroute2 import IPRoute

from lispstack.config.model import Engine, NodeConfig, NodeRole
from lispstack.core.counters import instance_counter
from lispstack.core.events import Action, IPAddress
from lispstack.core.itr import Itr
from lispstack.core.local_eids import LocalEids
from lispstack.core.xtr_cache import EntryKey
from lispstack.io import ebpf_layout as layout
from lispstack.io import libbpf
from lispstack.io.ebpf_used import UsedSlots
from lispstack.io.netlink import held_addresses

log = logging.getLogger("lispstack.dataplane")

TC_HANDLE = 0x4341
TC_PRIORITY = 4341
"""Our filters on a tc hook: a restart replaces them, cleanup finds them."""
_ZERO = bytes(4)


class MapCacheSync:
    """Keeps the BPF map-cache (its fd) equal to an ITR's map-cache, change by change."""

    def __init__(self, fd: int, used: UsedSlots) -> None:
        """`used`: the slots of the entries the program encapsulates with."""
        self._fd = fd
        self._itr: Itr | None = None
        self._used = used

    @property
    def itr(self) -> Itr | None:
        return self._itr

    def follow(self, itr: Itr) -> None:
        """From now on the BPF map follows `itr`'s map-cache (what it holds now first)."""
        self._itr = itr
        itr.cache.changed = {entry.key for entry in itr.cache.entries()}
        self.sync()

    def resync(self) -> None:
        """Every entry again (a reload may change what each entry's step is)."""
        if self._itr is not None and self._itr.cache.changed is not None:
            self._itr.cache.changed.update(e.key for e in self._itr.cache.entries())

    def sync(self, count: Callable[[str], None] | None = None) -> None:
        """Write what changed in the ITR's map-cache since the last call into the BPF map.

        An entry the map has no room for stays out: its packets miss and take
        the TUN path ("ebpf.map-cache-update-failed").
        """
        itr = self._itr
        if itr is None or not itr.cache.changed:
            return
        changed, itr.cache.changed = itr.cache.changed, set()
        for key in changed:
            try:
                self._write(itr, key)
            except OSError:
                if count is not None:
                    count("ebpf.map-cache-update-failed")

    def _write(self, itr: Itr, key: EntryKey) -> None:
        bpf_key = layout.lpm_key(*key)
        entry = itr.cache.get(key)
        if entry is None:
            libbpf.delete(self._fd, bpf_key)
            self._used.release(key)
            return
        if itr.carries_map_versions(entry):  # the V bit is written by the Python ITR only
            value = layout.PUNT
        else:
            value = layout.map_cache_value(*itr.step_for(entry))
        encapsulating = value[0] in layout.ENCAPSULATING
        if encapsulating:
            value = layout.with_slot(value, self._used.slot(key))
        libbpf.update(self._fd, bpf_key, value)
        if not encapsulating:  # after the update: the slot's next key starts clean
            self._used.release(key)

    def take_used(self) -> list[EntryKey]:
        """The entries the program encapsulated with since the last call (their flag cleared)."""
        return self._used.take()


class EbpfEngine:
    """The loaded programs and their maps, attached to the node's TUN and RLOC interfaces."""

    def __init__(
        self,
        config: NodeConfig,
        tuns: dict[int, int],
        rloc_interfaces: list[int],
        proxy_rlocs: tuple[IPAddress, ...] = (),
    ):
        """`tuns`: instance-id -> ifindex of its TUN device; `rloc_interfaces`: ifindexes;
        `proxy_rlocs`: the RLOCs a PITR sends from (see Itr: it has no database mappings)."""
        limit = max(config.itr.map_cache_limit, 1)
        words = layout.used_words(limit)
        self._obj = libbpf.BpfObject(layout.OBJECT, {"lisp_map_cache": limit, "lisp_used": words})
        self._used: UsedSlots | None = None
        self._attached: list[tuple[int, bool]] = []
        self._reported = [0] * len(layout.COUNTERS)
        self._cpus = libbpf.possible_cpus()
        self._tuns = tuns
        self._petr = layout.petr_addresses(config)
        self._local_rlocs: dict[int, set[bytes]] = {4: set(), 6: set()}
        """The keys written into lisp_local_rlocs(6), by IP version (a reload or the watch
        removes those gone)."""
        self._iid_reported = {iid: (0, 0) for iid in tuns}
        """Each TUN's instance-id (the only ones the programs count), and what it reported."""
        self._iid_size = ctypes.sizeof(layout.IidCounters) * self._cpus
        self._local = LocalEids(config.database_mappings, proxy_rlocs)
        """Our RLOCs (and a PITR's), following the watch of the addresses usable here
        (`follow_rlocs`)."""
        self._rloc_path_mtu = config.itr.rloc_path_mtu
        try:
            self._used = UsedSlots(self._obj.map_fd("lisp_used"), words)
            self.map_cache = MapCacheSync(self._obj.map_fd("lisp_map_cache"), self._used)
            self._counters = self._obj.map_fd("lisp_counters")
            self._iid_counters = self._obj.map_fd("lisp_iid_counters")
            for iid in self._iid_reported:
                libbpf.update(self._iid_counters, layout.iid_key(iid), bytes(self._iid_size))
            self._fill(config)
            if config.has_role(NodeRole.ITR) or config.has_role(NodeRole.PITR):
                encap = self._obj.program_fd("lisp_encap_tun")
                for ifindex in tuns.values():
                    _allow_forwarding(ifindex)
                    self._attach(ifindex, False, encap)
            if config.has_role(NodeRole.ETR) or self._petr is not None:
                decap = self._obj.program_fd("lisp_decap")
                for ifindex in rloc_interfaces:
                    self._attach(ifindex, True, decap)
        except OSError:
            self.close()
            raise

    def _fill(self, config: NodeConfig, running: NodeConfig | None = None) -> None:
        """The node's RLOCs and local EID prefixes (`running`: those to replace)."""
        self._local = self._local.with_mappings(config.database_mappings)
        self._rloc_path_mtu = config.itr.rloc_path_mtu
        self._fill_rlocs()
        iids = self._obj.map_fd("lisp_tun_iids")
        for iid, ifindex in self._tuns.items():
            libbpf.update(iids, ifindex.to_bytes(4, "little"), iid.to_bytes(4, "little"))
        eids = self._obj.map_fd("lisp_local_eids")
        entries = self._local_eids(config)
        for key in self._local_eids(running) if running is not None else {}:
            if key not in entries:
                libbpf.delete(eids, key)
        for key, value in entries.items():
            libbpf.update(eids, key, value)

    def follow_rlocs(self, usable: frozenset[IPAddress]) -> None:
        """The addresses usable here changed (io/rloc_watch.py): the source of what the
        program encapsulates and the RLOCs it decapsulates to follow, at once."""
        self._local = self._local.with_usable(usable)
        self._fill_rlocs()

    def _fill_rlocs(self) -> None:
        """Our RLOC of each family to send from, and the RLOCs the decapsulation program
        takes: ours that are usable here (held here, before the watch's first word)."""
        local = self._local
        value = layout.config_value(local.rloc_for, True, self._rloc_path_mtu)
        libbpf.update(self._obj.map_fd("lisp_config"), _ZERO, value)
        if local.usable is None:
            held = {address for address, _ in held_addresses()}
        else:
            held = {str(address) for address in local.usable}
        ours = [r.address for mapping in local.mappings for r in mapping.rlocs]
        for version, name in layout.LOCAL_RLOC_MAPS.items():
            rlocs = self._obj.map_fd(name)
            entries = layout.local_rloc_entries(ours, held, version, self._petr)
            for key in self._local_rlocs[version] - entries.keys():
                libbpf.delete(rlocs, key)
            for key, value in entries.items():
                libbpf.update(rlocs, key, value)
            self._local_rlocs[version] = set(entries)

    def _local_eids(self, config: NodeConfig) -> dict[bytes, bytes]:
        return layout.local_eid_entries(layout.local_prefixes(config), self._tuns)

    def reconfigure(self, running: NodeConfig, new: NodeConfig) -> None:
        """A reload: new database mappings (local EIDs, RLOCs), PETRs (every entry's step)."""
        try:
            self._fill(new, running)
        except OSError as error:
            log.error("reload: cannot update the eBPF maps: %s", error)
        self.resync()

    def _attach(self, ifindex: int, ingress: bool, program: int) -> None:
        libbpf.tc_attach(ifindex, ingress, program, TC_HANDLE, TC_PRIORITY)
        self._attached.append((ifindex, ingress))

    # ------------------------------------------------------------ the map-cache

    def follow(self, itr: Itr) -> None:
        """From now on the BPF map-cache follows `itr`'s."""
        self.map_cache.follow(itr)

    def resync(self) -> None:
        self.map_cache.resync()

    def sync(self, count: Callable[[str], None] | None = None) -> None:
        self.map_cache.sync(count)

    def used(self, now: float) -> list[Action]:
        """Tell the ITR which entries the kernel used (RLOC probing, refresh before expiry);
        what it does about it (a refreshing Map-Request)."""
        itr = self.map_cache.itr
        if itr is None:
            return []
        return [a for key in self.map_cache.take_used() for a in itr.used_in_kernel(key, now)]

    # ------------------------------------------------------------ counters

    def report(self, count: Callable[[str, int], None]) -> None:
        """Add what the programs counted since the last report."""
        for index, name in enumerate(layout.COUNTERS):
            per_cpu = libbpf.lookup(self._counters, index.to_bytes(4, "little"), 8 * self._cpus)
            total = layout.counter_total(per_cpu or b"")
            if total > self._reported[index]:
                count(name, total - self._reported[index])
                if name in layout.NODE_TOTALS:
                    count(layout.NODE_TOTALS[name], total - self._reported[index])
                self._reported[index] = total
        self._report_iids(count)

    def _report_iids(self, count: Callable[[str, int], None]) -> None:
        """The programs' per-instance-id packets, into iid.N.encapsulated/decapsulated
        (which then count both planes)."""
        for iid, reported in self._iid_reported.items():
            per_cpu = libbpf.lookup(self._iid_counters, layout.iid_key(iid), self._iid_size)
            totals = layout.iid_totals(per_cpu or b"")
            events = zip(("encapsulated", "decapsulated"), totals, reported, strict=True)
            for event, total, before in events:
                if total > before:
                    count(instance_counter(iid, event), total - before)
            self._iid_reported[iid] = totals

    def close(self) -> None:
        """Detach every program; the maps go with the object."""
        for ifindex, ingress in self._attached:
            libbpf.tc_detach(ifindex, ingress, TC_HANDLE, TC_PRIORITY)
        self._attached.clear()
        if self._used is not None:
            self._used.close()
            self._used = None
        self._obj.close()


def open_engine(
    config: NodeConfig,
    tuns: dict[int, int],
    rlocs: Iterable[object],
    proxy_rlocs: tuple[IPAddress, ...] = (),
) -> EbpfEngine | None:
    """The eBPF engine `[data-plane] engine` asks for, or None for the TUN engine.

    "auto" falls back to TUN with one log line saying why (also when `[itr] echo-nonce`
    needs every data packet in Python); "ebpf" raises OSError.
    """
    if config.data_plane.engine is Engine.TUN:
        return None
    if config.itr.echo_nonce:  # config checks refuse it with "ebpf": this is "auto"
        log.info("data plane engine: tun ([itr] echo-nonce reads every data packet)")
        return None
    try:
        interfaces = interfaces_holding(rlocs)
        interfaces += [i for i in _petr_interfaces(config) if i not in interfaces]
        engine = EbpfEngine(config, tuns, interfaces, proxy_rlocs)
    except OSError as error:
        if config.data_plane.engine is Engine.EBPF:
            raise OSError(error.errno, f"eBPF data plane: {error.strerror}") from None
        log.info("data plane engine: tun (eBPF unavailable: %s)", error.strerror or error)
        return None
    log.info("data plane engine: ebpf")
    return engine


def _allow_forwarding(ifindex: int) -> None:
    """bpf_fib_lookup answers only for a device with forwarding on: the TUN's own
    switches (net.ipv4.conf.DEVICE.forwarding, net.ipv6.conf.DEVICE.forwarding), which
    let what it delivers be forwarded (to an IPv4 or an IPv6 RLOC)."""
    name = socket.if_indextoname(ifindex)
    for version in ("ipv4", "ipv6"):
        Path(f"/proc/sys/net/{version}/conf/{name}/forwarding").write_text("1\n")


def _petr_interfaces(config: NodeConfig) -> list[int]:
    """Where a PETR's LISP data arrives: the interfaces holding its addresses (any
    IPv4 address but loopback's when it listens on every address)."""
    petr = layout.petr_addresses(config)
    if petr is None:
        return []
    if petr:
        return interfaces_holding(petr)
    held = [(ip_address(address), index) for address, index in held_addresses()]
    return sorted({i for address, i in held if address.version == 4 and not address.is_loopback})


def interfaces_holding(addresses: Iterable[object]) -> list[int]:
    """The ifindexes of the interfaces that hold these addresses (our RLOCs)."""
    wanted = {str(a) for a in addresses}
    found: list[int] = []
    for address, index in held_addresses():
        if address in wanted and index not in found:
            found.append(index)
    return found


def detach_stale() -> list[str]:
    """Our filters a killed node left on the interfaces of this namespace (`lispstack cleanup`)."""
    removed = []
    with IPRoute() as ipr:
        links = [(link["index"], link.get_attr("IFLA_IFNAME")) for link in ipr.get_links()]
    for index, name in links:
        for ingress in (True, False):
            with contextlib.suppress(OSError):
                if libbpf.tc_detach(index, ingress, TC_HANDLE, TC_PRIORITY):
                    removed.append(f"eBPF program on {name} ({'ingress' if ingress else 'egress'})")
    return removed
