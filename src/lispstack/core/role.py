"""The interface every role (map-server, map-resolver, itr, etr, pitr, petr) offers the node."""

from __future__ import annotations

from lispstack.config.model import NodeConfig
from lispstack.core.events import Action, DatagramReceived, LocalRlocsChanged
from lispstack.wire.control import ControlMessage
from lispstack.wire.message_type import MessageType


class Role:
    """A protocol role: fed decoded messages, packets and timer ticks; returns actions.

    The node hands a control message to the first role whose `control_types`
    holds its type (for an ECM, `MessageType.ECM`). Subclasses override what
    they handle; the defaults do nothing.
    """

    name: str = "role"
    control_types: frozenset[MessageType] = frozenset()
    handles_data: bool = False
    handles_tun: bool = False

    def handle_control(
        self, message: ControlMessage, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        return []

    def handle_data(self, datagram: DatagramReceived, now: float) -> list[Action]:
        return []

    def handle_tun(self, packet: bytes, now: float, iid: int = 0) -> list[Action]:
        return []

    def on_timer(self, now: float) -> list[Action]:
        return []

    def next_deadline(self) -> float | None:
        return None

    def show(self, topic: str, arg: str | None, now: float) -> object | None:
        """The JSON-able answer to `lispstack show TOPIC [ARG]`, or None if not ours."""
        return None

    def gauges(self) -> dict[str, int]:
        """Sizes worth watching now (metrics), e.g. {"registrations": 12}."""
        return {}

    def local_rlocs_changed(self, change: LocalRlocsChanged, now: float) -> list[Action]:
        """The addresses usable or held on this node changed."""
        return []

    def reconfigure(self, config: NodeConfig, now: float) -> list[Action]:
        """Take what is new in `config` (a live reload) and keep the rest of the state.

        The edge has checked that nothing changed that the node cannot apply
        live (config/reload_changes.py): roles, addresses and sizes are as before.
        """
        return []

    def shutdown(self, now: float) -> list[Action]:
        """Actions to carry out before the node stops (e.g. deregistration)."""
        return []
