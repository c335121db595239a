"""Routes of the main table out of an instance's interfaces, copied into its table live.

At start, netlink.PolicyRouting.install_instance copies the main table's
unicast routes out of each instance's EID-facing interfaces into the
instance's table (protocol COPY_PROTO). A thread started before that copy
listens to the kernel's route notifications (RTNLGRP_IPV4_ROUTE,
RTNLGRP_IPV6_ROUTE) and keeps the copies in step: a unicast route added to
the main table out of such an interface (an address set on it, an `ip route
add ... dev IF`) is copied, one removed there is removed from the copy. Routes
of other tables, other interfaces or other types are ignored, so what we
write ourselves never echoes back.

The thread is a netlink_listener.NetlinkListener: `stop` ends it at once.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_DELROUTE, RTM_NEWROUTE, RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE
from pyroute2.netlink.rtnl.marshal import MarshalRtnl

from lispstack.io.netlink import MAIN_TABLE, copied
from lispstack.io.netlink_listener import NetlinkListener

log = logging.getLogger("lispstack.routes")
UNICAST = 1
RECEIVE_BYTES = 1 << 20


def mirrored(message: Any, tables: Mapping[int, int]) -> tuple[str, dict[str, object]] | None:
    """("replace" or "del", `ipr.route` arguments) for a route notification that changes
    an instance's copy; None for any other. `tables`: interface index -> instance table."""
    kind = message["header"]["type"]
    if kind not in (RTM_NEWROUTE, RTM_DELROUTE) or message["type"] != UNICAST:
        return None
    table = message.get_attr("RTA_TABLE") or message["table"]
    oif = message.get_attr("RTA_OIF")
    if table != MAIN_TABLE or oif not in tables:
        return None
    return ("replace" if kind == RTM_NEWROUTE else "del"), copied(message, tables[oif])


class InstanceRouteMirror(NetlinkListener):
    """Started before the instances' tables are filled; `stop` before they are removed."""

    def __init__(self, tables: Mapping[int, int]) -> None:
        self._tables = dict(tables)
        self._lock = threading.Lock()
        self._tallies: Counter[str] = Counter()
        super().__init__(RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE, RECEIVE_BYTES, "instance-routes")

    def report(self, count: Callable[[str, int], None]) -> None:
        """Hand the tallies since the last report to `count` (name, amount):
        instance-routes.copied, .removed, .failed, .lost."""
        with self._lock:
            tallies, self._tallies = self._tallies, Counter()
        for name, amount in tallies.items():
            count(name, amount)

    def _run(self) -> None:
        marshal = MarshalRtnl()
        with IPRoute() as ipr:
            while self._wait():
                try:
                    data = self._socket.recv(RECEIVE_BYTES)
                except BlockingIOError:
                    continue
                except OSError as error:  # ENOBUFS: notifications lost
                    self._tally("instance-routes.lost")
                    log.warning("instance routes: notifications lost (%s)", error)
                    continue
                for message in marshal.parse(data):
                    change = mirrored(message, self._tables)
                    if change is not None:
                        self._apply(ipr, *change)

    def _apply(self, ipr: IPRoute, command: str, arguments: dict[str, object]) -> None:
        try:
            ipr.route(command, **arguments)
        except NetlinkError as error:
            if command == "del":  # the copy is gone already
                return
            self._tally("instance-routes.failed")
            log.warning("instance routes: cannot copy %s: %s", arguments.get("dst"), error)
            return
        self._tally(f"instance-routes.{'copied' if command == 'replace' else 'removed'}")

    def _tally(self, name: str) -> None:
        with self._lock:
            self._tallies[name] += 1
