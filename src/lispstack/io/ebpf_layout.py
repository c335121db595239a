"""The BPF maps' keys and values (io/ebpf/lisp_maps.h) as ctypes, and what goes in them.

Sans-I/O: pure functions turn a map-cache entry, the local EID prefixes and
the node's RLOCs into the bytes the eBPF programs read. The structs mirror
lisp_maps.h field for field; tests/unit/test_ebpf_layout.py checks every
size and offset against the BTF clang wrote into the compiled object.
"""

from __future__ import annotations

import ctypes
import socket
import sys
from collections.abc import Collection, Iterable, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path

from lispstack.config.model import NodeConfig, NodeRole
from lispstack.core.encapsulation import RlocChoice
from lispstack.core.events import IPAddress
from lispstack.core.forwarding import Step
from lispstack.core.path_mtu import OUTER_OVERHEAD

OBJECT = Path(__file__).with_name("ebpf") / "lisp.bpf.o"
"""The compiled programs (scripts/setup.sh builds them from lisp.bpf.c)."""

MAX_RLOCS = 8
ACTION_ENCAP, ACTION_PUNT, ACTION_DROP, ACTION_PETR = 0, 1, 2, 3
ENCAPSULATING = frozenset({ACTION_ENCAP, ACTION_PETR})
"""The actions whose entries the program encapsulates with (and marks used)."""
EID_SOURCE, EID_DELIVER, EID_ATTRACTED = 1, 2, 4
RLOC_DECAP, RLOC_PETR = 1, 2
"""Flags of a local RLOC in lisp_local_rlocs: the ETR decapsulates packets to it to local
EIDs, the PETR those for no local EID (instance-id 0), which it routes natively."""
KEY_BITS = 64
"""The instance-id and version words before the address in an LPM key."""

COUNTERS = (
    "ebpf.encap.packets",
    "ebpf.punt.miss",
    "ebpf.punt.entry",
    "ebpf.punt.unhandled",
    "ebpf.punt.route",
    "ebpf.drop.map-cache-drop",
    "ebpf.decap.packets",
    "ebpf.decap.passed",
    "ebpf.pitr.packets",
    "ebpf.encap.to-petr",
    "ebpf.petr.forwarded",
)
"""`show statistics` names of the per-CPU counters, in enum lisp_counter order."""
NODE_TOTALS = {
    "ebpf.encap.packets": "encap.packets",
    "ebpf.decap.packets": "decap.packets",
    "ebpf.pitr.packets": "pitr.packets",
    "ebpf.encap.to-petr": "encap.to-petr",
    "ebpf.petr.forwarded": "petr.forwarded",
}
"""Kernel counters also added to the node's own (encap.packets, pitr.packets, ...): those
count what the node did, whichever plane did it."""


class LpmKey(ctypes.Structure):
    _fields_ = (
        ("prefixlen", ctypes.c_uint32),
        ("iid", ctypes.c_uint32),
        ("version", ctypes.c_uint32),
        ("addr", ctypes.c_uint8 * 16),
    )


class Rloc(ctypes.Structure):
    _fields_ = (
        ("addr", ctypes.c_uint8 * 16),
        ("version", ctypes.c_uint8),
        ("priority", ctypes.c_uint8),
        ("weight", ctypes.c_uint8),
        ("reachable", ctypes.c_uint8),
    )


class MapCacheValue(ctypes.Structure):
    _fields_ = (
        ("action", ctypes.c_uint8),
        ("count", ctypes.c_uint8),
        ("pad", ctypes.c_uint16),
        ("lsb", ctypes.c_uint32),
        ("rlocs", Rloc * MAX_RLOCS),
        ("slot", ctypes.c_uint32),
    )


SLOTS_PER_WORD = 8
NO_SLOT = 0xFFFFFFFF
"""lisp_used: one byte per encapsulating entry (its slot), 8 in each array element."""


class Used(ctypes.Structure):
    _fields_ = (("used", ctypes.c_uint8 * SLOTS_PER_WORD),)


def used_words(map_cache_limit: int) -> int:
    """The lisp_used elements that give every entry of the map-cache a slot."""
    return -(-map_cache_limit // SLOTS_PER_WORD)


class EidValue(ctypes.Structure):
    _fields_ = (("flags", ctypes.c_uint32), ("ifindex", ctypes.c_uint32))


class IidCounters(ctypes.Structure):
    _fields_ = (("encapsulated", ctypes.c_uint64), ("decapsulated", ctypes.c_uint64))


class Config(ctypes.Structure):
    _fields_ = (
        ("rloc4", ctypes.c_uint8 * 4),
        ("families", ctypes.c_uint32),
        ("redirect", ctypes.c_uint32),
        ("max_inner4", ctypes.c_uint32),
        ("rloc6", ctypes.c_uint8 * 16),
        ("max_inner6", ctypes.c_uint32),
    )


STRUCTS: dict[str, type[ctypes.Structure]] = {
    "lisp_lpm_key": LpmKey,
    "lisp_rloc": Rloc,
    "lisp_mc_value": MapCacheValue,
    "lisp_eid_value": EidValue,
    "lisp_config": Config,
    "lisp_iid_counters": IidCounters,
    "lisp_used": Used,
}
"""C struct name -> its ctypes mirror (the layout test walks this)."""


def lpm_key(iid: int, version: int, network: int, length: int) -> bytes:
    """The LPM-trie key of an EID prefix (or, at full length, of one address)."""
    width = 4 if version == 4 else 16
    key = LpmKey(KEY_BITS + length, _be32(iid), _be32(version))
    key.addr[:width] = list(network.to_bytes(width, "big"))
    return bytes(key)


def map_cache_value(step: Step, rlocs: Sequence[RlocChoice], lsb: int) -> bytes:
    """What the encapsulation program does for a map-cache entry whose step is `step`.

    ENCAPSULATE carries the entry's RLOCs, TO_PETR the PETRs (`rlocs`: Itr.step_for
    gives them); DROP drops in the kernel; everything else, and a set of more than
    MAX_RLOCS RLOCs, is the Python ITR's (punted to the TUN device). No used slot
    yet (with_slot gives one).
    """
    if step is Step.DROP:
        return bytes(MapCacheValue(ACTION_DROP))
    action = {Step.ENCAPSULATE: ACTION_ENCAP, Step.TO_PETR: ACTION_PETR}.get(step)
    if action is None or len(rlocs) > MAX_RLOCS:
        return bytes(MapCacheValue(ACTION_PUNT))
    value = MapCacheValue(action, len(rlocs), lsb=lsb & 0xFFFFFFFF, slot=NO_SLOT)
    for slot, rloc in zip(value.rlocs, rlocs, strict=False):
        packed = rloc.address.packed
        slot.addr[: len(packed)] = list(packed)
        slot.version = rloc.address.version
        slot.priority = min(rloc.priority, 255)
        slot.weight = min(rloc.weight, 255)
        slot.reachable = int(rloc.reachable)
    return bytes(value)


_SLOT = MapCacheValue.slot.offset


def with_slot(value: bytes, slot: int) -> bytes:
    """A map-cache value with its used slot (see io/ebpf_used.py)."""
    return value[:_SLOT] + slot.to_bytes(4, sys.byteorder) + value[_SLOT + 4 :]


PUNT = bytes(MapCacheValue(ACTION_PUNT))
"""A map-cache value whose packets go to the Python ITR."""


LocalPrefix = tuple[int, IPv4Network | IPv6Network, int]
"""(instance-id, prefix, EID_* flags)."""


def local_prefixes(config: NodeConfig) -> list[LocalPrefix]:
    """The node's EID prefixes the programs take: a source to encapsulate (an ITR),
    a destination to deliver (an ETR), and a PITR's attracted prefixes of instance-id 0
    (a destination to encapsulate, whatever the source). A dynamic prefix's packets stay
    with Python both ways: its ITR learns the hosts that send, its ETR SMRs the ITRs
    still sending to a host gone."""
    flags = (EID_SOURCE if config.has_role(NodeRole.ITR) else 0) | (
        EID_DELIVER if config.has_role(NodeRole.ETR) else 0
    )
    attracted: list[LocalPrefix] = []
    if config.has_role(NodeRole.PITR):
        attracted = [(0, p.network, EID_ATTRACTED) for p in config.pitr.eid_prefixes if p.iid == 0]
    return [
        (m.eid_prefix.iid, ip_network(m.eid_prefix.network), flags)
        for m in config.database_mappings
        if not m.dynamic
    ] + attracted


def local_eid_entries(
    prefixes: Iterable[LocalPrefix], tun_index: dict[int, int]
) -> dict[bytes, bytes]:
    """The local-EID trie: each prefix with the flags of every prefix that holds it.

    The programs read one longest match; giving each prefix the flags of the
    prefixes around it makes that match answer "is the address inside any
    prefix with this flag". `tun_index`: instance-id -> its TUN's ifindex.
    """
    flags: dict[tuple[int, IPv4Network | IPv6Network], int] = {}
    for iid, network, flag in prefixes:
        flags[(iid, network)] = flags.get((iid, network), 0) | flag
    entries: dict[bytes, bytes] = {}
    for (iid, network), own in flags.items():
        inherited = own
        for (other_iid, other), flag in flags.items():
            if (
                other_iid == iid and other.version == network.version and network.subnet_of(other)  # type: ignore[arg-type]
            ):
                inherited |= flag
        key = lpm_key(iid, network.version, int(network.network_address), network.prefixlen)
        entries[key] = bytes(EidValue(inherited, tun_index.get(iid, 0)))
    return entries


LOCAL_RLOC_MAPS = {4: "lisp_local_rlocs", 6: "lisp_local_rlocs6"}
"""The hash of the node's local RLOCs, by IP version."""


def local_rloc_entries(
    rlocs: Iterable[IPAddress],
    held: Collection[str],
    version: int = 4,
    petr: Collection[IPAddress] | None = None,
) -> dict[bytes, bytes]:
    """The lisp_local_rlocs (IPv4) or lisp_local_rlocs6 hash: each RLOC of the node of
    that version that an interface here holds (`held`: the addresses of this namespace),
    so the decapsulation program takes packets to any of a multihomed ETR's RLOCs
    (RLOC_DECAP), and a PETR's (RLOC_PETR, IPv4 only; `petr`: see petr_addresses). Key:
    the address (network order)."""
    flags: dict[bytes, int] = {}
    for rloc in rlocs:
        if rloc.version == version and str(rloc) in held:
            flags[rloc.packed] = RLOC_DECAP
    if petr is not None and version == 4:
        for address in petr or (ip_address(a) for a in held):
            if address.version == 4 and str(address) in held:
                flags[address.packed] = flags.get(address.packed, 0) | RLOC_PETR
    return {key: flag.to_bytes(4, sys.byteorder) for key, flag in flags.items()}


def petr_addresses(config: NodeConfig) -> tuple[IPAddress, ...] | None:
    """The addresses a PETR takes LISP data on: its `listen` addresses, or () for every
    address of the node (its 4341 socket is bound to the wildcard); None: not a PETR."""
    if not config.has_role(NodeRole.PETR):
        return None
    return config.node.listen


def config_value(rlocs: dict[int, IPAddress], redirect: bool, rloc_path_mtu: int = 0) -> bytes:
    """The node's RLOCs by IP version, whether to send packets out (not a test run),
    and the largest inner packet an IPv4 and an IPv6 outer header take within
    `rloc_path_mtu` (0: no limit)."""
    value = Config(families=(1 if 4 in rlocs else 0) | (2 if 6 in rlocs else 0))
    if 4 in rlocs:
        value.rloc4[:] = list(rlocs[4].packed)
    if 6 in rlocs:
        value.rloc6[:] = list(rlocs[6].packed)
    value.redirect = int(redirect)
    value.max_inner4 = max(rloc_path_mtu - OUTER_OVERHEAD[4], 0)
    value.max_inner6 = max(rloc_path_mtu - OUTER_OVERHEAD[6], 0)
    return bytes(value)


def plane(decision: dict[str, object]) -> str:
    """Which engine carries the packets of a `show forwarding` decision when eBPF runs:
    "ebpf" for what the programs do themselves (encapsulation to an RLOC, IPv4 or
    IPv6 inside and outside, a map-cache drop action), "tun" for what they leave to
    the Python ITR."""
    verdict = decision.get("verdict")
    if verdict == "encapsulate" and decision.get("rloc") is not None:
        return "ebpf"
    if verdict == "drop" and decision.get("prefix") is not None:
        return "ebpf"
    return "tun"


def iid_key(iid: int) -> bytes:
    """The lisp_iid_counters key of an instance-id (host order)."""
    return iid.to_bytes(4, sys.byteorder)


def iid_totals(per_cpu: bytes) -> tuple[int, int]:
    """An instance-id's per-CPU counters summed: (encapsulated, decapsulated)."""
    size = ctypes.sizeof(IidCounters)
    slots = [IidCounters.from_buffer_copy(per_cpu, i) for i in range(0, len(per_cpu), size)]
    return sum(s.encapsulated for s in slots), sum(s.decapsulated for s in slots)


def counter_total(per_cpu: bytes) -> int:
    """A per-CPU counter's value: the CPUs' 8-byte slots (host order) summed."""
    return sum(int.from_bytes(per_cpu[i : i + 8], sys.byteorder) for i in range(0, len(per_cpu), 8))


def _be32(value: int) -> int:
    """A host-order u32 field holding `value` in network byte order."""
    return socket.htonl(value)
