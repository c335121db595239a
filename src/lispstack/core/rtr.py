"""The Re-encapsulating Tunnel Router role, `rtr` (draft-ietf-lisp-nat-traversal).

The RTR is where xTRs behind a NAT send everything (core.nat_messages says
how and on which ports):

- An ECM (M bit) holding a Map-Register from an xTR behind a NAT: the RTR
  notes the datagram's source (the NAT's address and port: the xTR's
  translated RLOC), the ECM's inner source (its private RLOC), its xTR-ID and
  EID prefixes, and sends the Map-Register, as it was signed, to the
  Map-Server the ECM names. The Map-Register must carry an xTR-ID and ask for a
  Map-Notify ("drop.rtr-register-without-xtr-id", "drop.rtr-register-without-map-notify").
- The Map-Server's Map-Notify (its nonce must be one of a Map-Register the RTR
  forwarded: "drop.rtr-map-notify-unknown-nonce"; the Map-Server may answer
  from another of its addresses) confirms
  the registration: only then does the NAT table send the xTR's EID prefixes
  to its translated RLOC, and the Map-Notify goes on to the xTR as a
  Data-Map-Notify. A registration with TTL 0 takes the xTR's prefixes out.
- Data (UDP 4341): decapsulated; an inner destination in the NAT table is
  re-encapsulated to that xTR's translated address and port (from port 4342);
  any other is resolved and encapsulated like a Proxy-ITR does (core.itr, with
  every IPv4 and IPv6 EID attracted: Map-Requests through `[[map-resolvers]]`,
  the RTR's own map-cache). A packet the ITR would send back to the RTR itself
  (the mapping names the RTR, but no NAT table entry holds the EID) is dropped
  ("drop.rtr-loop").
- NAT table entries live for the record TTL of the xTR's last confirmed
  Map-Register (3 minutes by default), refreshed by each one.

`show nat`: the NAT table; `show map-cache`: the RTR's map-cache.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.eid_prefix import record_prefix
from lispstack.core.encapsulation import data_header, decapsulate, inner_ints
from lispstack.core.events import (
    CONTROL_PORT,
    Action,
    DatagramReceived,
    Endpoint,
    IPAddress,
    SendDatagram,
    Trace,
)
from lispstack.core.itr import Itr
from lispstack.core.nat_messages import data_map_notify, ecm_payload
from lispstack.core.role import Role
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.prefix_table import PrefixTable
from lispstack.wire.control import ControlMessage
from lispstack.wire.ecm import Ecm
from lispstack.wire.errors import DecodeError
from lispstack.wire.map_notify import MapNotify
from lispstack.wire.map_register import MapRegister
from lispstack.wire.message_type import MessageType

MAX_PENDING = 4096
"""Map-Registers forwarded and not yet answered, remembered (the oldest forgotten first)."""


@dataclass(slots=True)
class NatEntry:
    """One xTR behind a NAT, as its last confirmed Map-Register showed it."""

    xtr_id: int
    site_id: int
    translated: Endpoint
    private_rloc: IPAddress
    prefixes: tuple[EidPrefix, ...]
    map_server: IPAddress
    confirmed_at: float
    expires_at: float

    def to_json(self, now: float) -> dict[str, object]:
        return {
            "xtr_id": f"{self.xtr_id:032x}",
            "site_id": self.site_id,
            "translated": str(self.translated),
            "private_rloc": str(self.private_rloc),
            "eid_prefixes": [str(p) for p in self.prefixes],
            "map_server": str(self.map_server),
            "confirmed_s_ago": round(now - self.confirmed_at, 3),
            "expires_in_s": round(max(0.0, self.expires_at - now), 3),
        }


@dataclass(frozen=True, slots=True)
class _Forwarded:
    """A Map-Register the RTR sent on, waiting for its Map-Notify."""

    entry: NatEntry
    lifetime: float


class Rtr(Role):
    name = "rtr"
    control_types = frozenset({MessageType.ECM, MessageType.MAP_NOTIFY})
    handles_data = True

    def __init__(
        self,
        itr: Itr,
        own_rlocs: Sequence[IPAddress],
        counters: Counters,
        drops: DropRecorder,
        rng: random.Random,
    ) -> None:
        self.itr = itr
        self.own_rlocs = frozenset(own_rlocs)
        self.counters = counters
        self.drops = drops
        self.rng = rng
        self.xtrs: dict[int, NatEntry] = {}
        """The NAT table by xTR-ID."""
        self._by_eid: PrefixTable[NatEntry] = PrefixTable()
        self._pending: OrderedDict[int, _Forwarded] = OrderedDict()

    # ------------------------------------------------------------ control

    def handle_control(
        self, message: ControlMessage, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        sender = str(datagram.source.address)
        if isinstance(message, MapNotify):
            return self._map_notify(message, datagram, now)
        if not isinstance(message, Ecm) or not isinstance(message.message, MapRegister):
            return list(self.drops.drop("rtr-ecm-not-map-register", sender, now))
        register = message.message
        if register.xtr_id is None:
            return list(self.drops.drop("rtr-register-without-xtr-id", sender, now))
        if not register.want_map_notify:
            return list(self.drops.drop("rtr-register-without-map-notify", sender, now))
        prefixes = tuple(p for p in map(record_prefix, register.records) if p is not None)
        ttl = register.records[0].ttl if register.records else 0
        entry = NatEntry(
            xtr_id=register.xtr_id.xtr_id,
            site_id=register.xtr_id.site_id,
            translated=datagram.source,
            private_rloc=message.source,
            prefixes=prefixes,
            map_server=message.destination,
            confirmed_at=now,
            expires_at=now,
        )
        self._pending[register.nonce] = _Forwarded(entry, ttl * 60.0)
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)
        self.counters.add("rtr.map-register.forwarded")
        inner = ecm_payload(datagram.payload)
        return [SendDatagram(inner, Endpoint(message.destination, CONTROL_PORT), CONTROL_PORT)]

    def _map_notify(
        self, notify: MapNotify, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        sender = str(datagram.source.address)
        forwarded = self._pending.get(notify.nonce)
        if forwarded is None:
            return list(self.drops.drop("rtr-map-notify-unknown-nonce", sender, now))
        del self._pending[notify.nonce]
        entry = forwarded.entry
        actions: list[Action] = []
        old = self.xtrs.pop(entry.xtr_id, None)
        if old is not None:
            self._unroute(old)
        if forwarded.lifetime > 0:
            entry.confirmed_at, entry.expires_at = now, now + forwarded.lifetime
            self.xtrs[entry.xtr_id] = entry
            for prefix in entry.prefixes:
                self._by_eid[prefix] = entry
            if old is None or old.translated != entry.translated:
                actions.append(Trace("nat-entry", _trace_fields(entry)))
        self.counters.add("rtr.map-notify.relayed")
        own = datagram.local.address
        rtr = own if not own.is_unspecified else min(self.own_rlocs, default=own)
        nonce = self.rng.getrandbits(24)
        actions.append(
            data_map_notify(datagram.payload, rtr, entry.private_rloc, nonce, entry.translated)
        )
        return actions

    def _unroute(self, entry: NatEntry) -> None:
        for prefix in entry.prefixes:
            if self._by_eid.get(prefix) is entry:
                del self._by_eid[prefix]

    # ------------------------------------------------------------ data

    def handle_data(self, datagram: DatagramReceived, now: float) -> list[Action]:
        source = str(datagram.source.address)
        try:
            packet = decapsulate(datagram.payload)
            version, _, dst = inner_ints(packet.inner)
        except DecodeError as error:
            return list(self.drops.drop("decap-malformed", source, now, str(error)))
        address = IPv4Address(dst) if version == 4 else IPv6Address(dst)
        hit = self._by_eid.lookup(packet.iid, address)
        found = None if hit is None else hit[1]
        if found is not None and found.expires_at > now:
            self.counters.add("rtr.to-nat")
            header = data_header(self.rng.getrandbits(24), 1, packet.iid)
            return [SendDatagram(header + packet.inner, found.translated, CONTROL_PORT)]
        self.counters.add("rtr.re-encapsulated")
        actions = self.itr.handle_tun(packet.inner, now, packet.iid)
        looped = [
            a
            for a in actions
            if isinstance(a, SendDatagram) and a.destination.address in self.own_rlocs
        ]
        if not looped:
            return actions
        kept = [a for a in actions if a not in looped]
        return kept + list(self.drops.drop("rtr-loop", source, now))

    # ------------------------------------------------------------ timers and show

    def on_timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        for entry in [e for e in self.xtrs.values() if e.expires_at <= now]:
            del self.xtrs[entry.xtr_id]
            self._unroute(entry)
            self.counters.add("rtr.nat-entries.expired")
            actions.append(Trace("nat-entry-expired", _trace_fields(entry)))
        return actions

    def next_deadline(self) -> float | None:
        return min((e.expires_at for e in self.xtrs.values()), default=None)

    def gauges(self) -> dict[str, int]:
        return {"nat-entries": len(self.xtrs)}

    def show(self, topic: str, arg: str | None, now: float) -> object | None:
        if topic != "nat":
            return None
        return [entry.to_json(now) for entry in self.xtrs.values()]


def _trace_fields(entry: NatEntry) -> dict[str, object]:
    return {
        "xtr_id": f"{entry.xtr_id:032x}",
        "translated": str(entry.translated),
        "eids": ",".join(str(p) for p in entry.prefixes),
    }
