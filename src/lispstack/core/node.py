"""A node: the roles of one `lispstack run`, composed behind one sans-I/O interface.

node.handle(input, now) -> [actions]      (datagram, TUN packet, timer, local RLOCs)
node.next_deadline() -> float | None      (one timer for the whole node)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lispstack.config.model import NodeConfig
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.events import (
    CONTROL_PORT,
    DATA_PORT,
    Action,
    DatagramReceived,
    Endpoint,
    Input,
    LocalRlocsChanged,
    PacketFromTun,
    TimerFired,
)
from lispstack.core.role import Role
from lispstack.wire.control import decode_control
from lispstack.wire.errors import DecodeError
from lispstack.wire.message_type import MessageType
from lispstack.wire.records import LocatorSets, new_locator_sets


class Node:
    def __init__(
        self,
        name: str,
        roles: Sequence[Role],
        counters: Counters,
        drops: DropRecorder,
        locator_sets: LocatorSets | None = None,
    ) -> None:
        self.name = name
        self.locator_sets: LocatorSets = (
            new_locator_sets() if locator_sets is None else locator_sets
        )
        """The records of the messages this node decodes share locator tuples through it."""
        self.roles = tuple(roles)
        self.counters = counters
        self.drops = drops
        self._data_roles = tuple(r for r in self.roles if r.handles_data)
        self._tun_roles = tuple(r for r in self.roles if r.handles_tun)
        self._control_routes: dict[int, Role] = {}
        self._control: Callable[[DatagramReceived, float], list[Action]] = self.handle_control
        self.answer_cached: Callable[[bytes, float], tuple[bytes, bytes, int] | None] | None = None
        """See ResolverFastPath.answer_cached; None when the node has no such shortcut."""
        self.answer_ddt_cached: (
            Callable[[bytes, float], tuple[bytes, bytes, bytes, int] | None] | None
        ) = None
        """See ResolverFastPath.answer_ddt_cached; None when the node has no such shortcut."""
        self.encapsulate_ipv4: Callable[[bytes, int, float], tuple[bytes, str] | None] | None = None
        """See Itr.encapsulate_ipv4; None on a node without an ITR."""
        self.decapsulate_data: Callable[[bytes, Endpoint, float], tuple[bytes, int] | None] | None
        self.decapsulate_data = None
        """See Etr.decapsulate_data; None on a node whose data datagrams go elsewhere."""
        self.apply_replica: Callable[[DatagramReceived, float], None] | None = None
        """See MapServer.apply_replica; None on a node without a Map-Server."""
        for role in self.roles:
            for kind in role.control_types:
                self._control_routes.setdefault(kind, role)

    def handle(self, event: Input, now: float) -> list[Action]:
        if isinstance(event, DatagramReceived):
            if event.local.port == DATA_PORT:
                return self._handle_data(event, now)
            return self._control(event, now)
        if isinstance(event, PacketFromTun):
            return self.handle_tun(event.packet, event.iid, now)
        if isinstance(event, TimerFired):
            return self.on_timer(now)
        if isinstance(event, LocalRlocsChanged):
            return [a for role in self.roles for a in role.local_rlocs_changed(event, now)]
        raise TypeError(f"unknown input {event!r}")

    def use_control_fast_path(
        self, fast_path: Callable[[DatagramReceived, float], list[Action]]
    ) -> None:
        """Route control datagrams through `fast_path`, which falls back on handle_control."""
        self._control = fast_path

    def handle_control(self, datagram: DatagramReceived, now: float) -> list[Action]:
        """The general path for a control datagram: decode, count, hand to its role."""
        try:
            message = decode_control(datagram.payload, locator_sets=self.locator_sets)
        except DecodeError as error:
            self.counters.add("in.malformed")
            source = str(datagram.source.address)
            return list(self.drops.drop("malformed", source, now, str(error)))
        kind = MessageType(datagram.payload[0] >> 4)
        self.counters.add(f"in.{kind.label}")
        role = self._control_routes.get(kind)
        if role is None:
            source = str(datagram.source.address)
            return list(self.drops.drop(f"unexpected-{kind.label}", source, now))
        return role.handle_control(message, datagram, now)

    def _handle_data(self, datagram: DatagramReceived, now: float) -> list[Action]:
        if not self._data_roles:
            return list(self.drops.drop("data-without-etr", str(datagram.source.address), now))
        return self._data_roles[0].handle_data(datagram, now)

    def handle_tun(self, packet: bytes, iid: int, now: float) -> list[Action]:
        """`handle(PacketFromTun(packet, iid), now)` without the event object: the
        daemon's TUN reader calls it once per packet."""
        if not self._tun_roles:
            self.counters.add("drop.tun-without-itr")
            return []
        return self._tun_roles[0].handle_tun(packet, now, iid)

    def on_timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        for role in self.roles:
            actions.extend(role.on_timer(now))
        return actions

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (role.next_deadline() for role in self.roles) if d is not None]
        return min(deadlines, default=None)

    def show(self, topic: str, arg: str | None, now: float) -> object | None:
        if topic == "statistics":
            return self.counters.snapshot()
        for role in self.roles:
            answer = role.show(topic, arg, now)
            if answer is not None:
                return answer
        return None

    def gauges(self) -> dict[str, int]:
        """Every role's gauges (see Role.gauges)."""
        return {name: value for role in self.roles for name, value in role.gauges().items()}

    def reconfigure(self, config: NodeConfig, now: float) -> list[Action]:
        """A live reload: every role takes what changed (see Role.reconfigure)."""
        actions: list[Action] = []
        for role in self.roles:
            actions.extend(role.reconfigure(config, now))
        return actions

    def shutdown(self, now: float) -> list[Action]:
        actions: list[Action] = []
        for role in self.roles:
            actions.extend(role.shutdown(now))
        return actions


__all__ = ["CONTROL_PORT", "DATA_PORT", "Node"]
