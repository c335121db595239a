"""What the sans-I/O core is fed (inputs) and what it asks the edge to do (actions).

A role never touches a socket, a device or the clock: the node daemon (or a
simulation, or a benchmark) turns received datagrams and TUN packets into
inputs, calls `Node.handle(input, now)`, and carries out the returned
actions in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import TypeAlias

IPAddress: TypeAlias = IPv4Address | IPv6Address

CONTROL_PORT = 4342
DATA_PORT = 4341


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: IPAddress
    port: int

    def __str__(self) -> str:
        if isinstance(self.address, IPv6Address):
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class DatagramReceived:
    """A UDP datagram that arrived on one of our sockets (4342 or 4341)."""

    payload: bytes
    source: Endpoint
    local: Endpoint


@dataclass(frozen=True, slots=True)
class PacketFromTun:
    """An IP packet the kernel routed into our TUN device (an EID-sourced packet);
    `iid`: the instance-id whose TUN it came from (0: the main routing domain's)."""

    packet: bytes
    iid: int = 0


@dataclass(frozen=True, slots=True)
class TimerFired:
    """The deadline from `next_deadline()` has passed."""


@dataclass(frozen=True, slots=True)
class LocalRlocsChanged:
    """The addresses this node can send from and receive on changed: `usable` holds
    every address of an interface that is up (io/rloc_watch.py watches them). The
    xTR's RLOCs follow (core/local_eids.py)."""

    usable: frozenset[IPAddress]
    held: frozenset[IPAddress] = frozenset()
    """Every address held here, whatever its interface's state (the node's own
    addresses: never a dynamic host, core.etr)."""


Input: TypeAlias = DatagramReceived | PacketFromTun | TimerFired | LocalRlocsChanged


# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class SendDatagram:
    """Send `payload` over UDP to `destination`.

    `source_port` is the local port to send from (4342, 4341, or 0 for an
    ephemeral one); `source_address` pins the local address when the
    message must leave from a specific RLOC (None: let the kernel choose).
    """

    payload: bytes
    destination: Endpoint
    source_port: int = CONTROL_PORT
    source_address: IPAddress | None = None


@dataclass(frozen=True, slots=True)
class WriteToTun:
    """Hand a decapsulated IP packet to the local kernel through the TUN device of
    instance-id `iid`, so that the kernel routes it in that instance's domain only."""

    packet: bytes
    iid: int = 0


@dataclass(frozen=True, slots=True)
class ForwardNatively:
    """Send an IP packet unencapsulated, the way the kernel would route it."""

    packet: bytes


@dataclass(frozen=True, slots=True)
class InstallNativeRoute:
    """`prefix` is now natively forwarded: stop steering EID-sourced packets to it into the TUN.

    The ITR asks for it while its map-cache holds a natively-forward entry for
    exactly `prefix` with no entry of another kind inside it (see core.xtr_cache),
    once per such stretch: an install is always followed, sooner or later, by its
    RemoveNativeRoute (at the latest on shutdown), never by a second install.
    """

    iid: int
    prefix: str


@dataclass(frozen=True, slots=True)
class RemoveNativeRoute:
    """`prefix` is no longer natively forwarded: undo its InstallNativeRoute.

    Its entry expired, was evicted, replaced by another kind, or now holds an
    entry of another kind; or the node stops.
    """

    iid: int
    prefix: str


@dataclass(frozen=True, slots=True)
class ReplicateRegister:
    """Hand an accepted Map-Register, as received, to the node's other workers."""

    payload: bytes
    source: Endpoint


@dataclass(frozen=True, slots=True)
class Trace:
    """A protocol event worth a structured log line.

    Events in PER_MESSAGE_EVENTS happen once per message or request and are
    logged at DEBUG; the others are state changes (a registration appears or
    expires, a node registers for the first time), logged at INFO. Drops are
    rate-limited where they are made (core/drops.py).
    """

    event: str
    fields: dict[str, object] = field(default_factory=dict)


PER_MESSAGE_EVENTS = frozenset(
    {
        "map-request",
        "map-request-timeout",
        "map-reply",
        "map-cache-add",
        "map-register",
        "map-notify",
        "info-request",
    }
)


Action: TypeAlias = (
    SendDatagram
    | WriteToTun
    | ForwardNatively
    | InstallNativeRoute
    | RemoveNativeRoute
    | ReplicateRegister
    | Trace
)
