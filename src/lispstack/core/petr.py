"""The Proxy-ETR role (RFC 6832): decapsulate what ITRs send it and forward it natively.

A LISP site whose provider filters EID-sourced packets sends its traffic for
non-LISP destinations encapsulated to a PETR, which hands the inner packet
to its own (native) routing.

Native routing is the main table, instance-id 0's domain: a packet with another
instance-id is dropped and counted (drop.petr-instance-id), never handed to the
main table, where it would leave its tenant's routing domain.
"""

from __future__ import annotations

from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.encapsulation import decapsulate
from lispstack.core.events import Action, DatagramReceived, ForwardNatively
from lispstack.core.role import Role
from lispstack.wire.errors import DecodeError


class Petr(Role):
    name = "petr"
    handles_data = True

    def __init__(self, counters: Counters, drops: DropRecorder) -> None:
        self.counters = counters
        self.drops = drops

    def handle_data(self, datagram: DatagramReceived, now: float) -> list[Action]:
        try:
            packet = decapsulate(datagram.payload)
        except DecodeError as error:
            return list(
                self.drops.drop("petr-malformed", str(datagram.source.address), now, str(error))
            )
        if packet.iid != 0:  # unserved: no counter per iid
            return list(self.drops.drop("petr-instance-id", str(datagram.source.address), now))
        self.counters.add("petr.forwarded")
        return [ForwardNatively(packet.inner)]
