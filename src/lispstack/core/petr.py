"""The Proxy-ETR role (RFC 6832): decapsulate what ITRs send it and forward it natively.

A LISP site whose provider filters EID-sourced packets sends its traffic for
non-LISP destinations encapsulated to a PETR, which hands the inner packet
to its own (native) routing.

Native routing is the main table for instance-id 0, and the routing domain of
its `[[instances]]` entry for another instance-id: the inner packet is written
into that instance's TUN device, so the kernel routes it in that instance's
table only (counted as iid.N.decapsulated). A packet of an instance-id the node
has no domain for is dropped and counted (drop.petr-instance-id), never handed
to the main table, where it would leave its tenant's routing domain.
"""

from __future__ import annotations

from collections.abc import Collection

from lispstack.core.counters import Counters, instance_counter
from lispstack.core.drops import DropRecorder
from lispstack.core.encapsulation import decapsulate
from lispstack.core.events import Action, DatagramReceived, ForwardNatively, WriteToTun
from lispstack.core.role import Role
from lispstack.wire.data_header import Decapsulated
from lispstack.wire.errors import DecodeError


class Petr(Role):
    name = "petr"
    handles_data = True

    def __init__(
        self, counters: Counters, drops: DropRecorder, instances: Collection[int] = ()
    ) -> None:
        """`instances`: the non-zero instance-ids with a routing domain on this node."""
        self.counters = counters
        self.drops = drops
        self.instances = frozenset(instances)

    def handle_data(self, datagram: DatagramReceived, now: float) -> list[Action]:
        try:
            packet = decapsulate(datagram.payload)
        except DecodeError as error:
            return list(
                self.drops.drop("petr-malformed", str(datagram.source.address), now, str(error))
            )
        return self.forward(packet, datagram, now)

    def forward(self, packet: Decapsulated, datagram: DatagramReceived, now: float) -> list[Action]:
        """Hand on what `datagram` carried (also the co-located ETR's packets for no EID
        of its own: core.xtr wires `Etr.on_not_our_eid` here)."""
        iid = packet.iid
        if iid != 0 and iid not in self.instances:  # unserved: no counter per iid
            return list(self.drops.drop("petr-instance-id", str(datagram.source.address), now))
        self.counters.add("petr.forwarded")
        self.counters.add(instance_counter(iid, "decapsulated"))
        return [ForwardNatively(packet.inner) if iid == 0 else WriteToTun(packet.inner, iid)]
