"""The xTR's watch of its own RLOCs: the addresses usable on this node, live.

A thread listens to the kernel's address and link notifications
(RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK: `ip addr add/del`,
`ip link set up/down`, a carrier lost). After each batch of notifications it
reads the addresses usable now (held by an interface that is up and has a
carrier) and every one held, in one reading (netlink.node_addresses), and, when
they changed, hands them to
the node's event loop (`call_soon_threadsafe`), which feeds the core a
LocalRlocsChanged: the core never polls. The first reading, at start, is
handed over the same way; the socket is bound before it, so no change is lost
in between. Lost notifications (ENOBUFS) are harmless: the state is read whole.

pyroute2's IPRoute never runs in the node's event loop: only in this thread,
a netlink_listener.NetlinkListener (`stop` ends it at once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from pyroute2 import IPRoute
from pyroute2.netlink.rtnl import RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK

from lispstack.core.events import IPAddress
from lispstack.io.netlink import node_addresses
from lispstack.io.netlink_listener import NetlinkListener

log = logging.getLogger("lispstack.rlocs")
RECEIVE_BYTES = 1 << 18


class LocalRlocWatch(NetlinkListener):
    """Started inside the node's event loop; `stop` before the loop ends."""

    def __init__(
        self,
        report: Callable[[frozenset[IPAddress], frozenset[IPAddress]], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """`report(usable, held)` runs in `loop`, at start and at each change."""
        self._report = report
        self._loop = loop
        groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR
        super().__init__(groups, RECEIVE_BYTES, "rloc-watch")

    def _run(self) -> None:
        last: tuple[frozenset[IPAddress], frozenset[IPAddress]] | None = None
        with IPRoute() as ipr:
            while True:
                try:
                    usable, held = node_addresses(ipr)
                except OSError as error:  # read again at the next notification
                    log.warning("cannot read the addresses of this node: %s", error)
                else:
                    if (usable, held) != last:
                        self._loop.call_soon_threadsafe(self._report, usable, held)
                        last = usable, held
                if not self._wait():
                    return
                self._drain()

    def _drain(self) -> None:
        """Read every notification queued (what they say is read afresh, whole)."""
        while True:
            try:
                self._socket.recv(RECEIVE_BYTES)
            except BlockingIOError:
                return
            except OSError:  # ENOBUFS: some were lost
                continue
