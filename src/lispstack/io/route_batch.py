"""Route changes in batches over one rtnetlink socket: many messages per send.

pyroute2's synchronous API costs about a millisecond per route (a round
trip through its own event loop); a map-cache turning over thousands of
negative entries, or a table of 20,000 throws removed at stop, needs
thousands per second. Here a batch of RTM_NEWROUTE / RTM_DELROUTE messages
goes out in one send; the kernel answers only those that failed, by
sequence number. Only what the xTR table uses:

    rtmsg (family, dst_len, src_len, tos, table, protocol, scope, type, flags)
    RTA_DST, RTA_OIF, RTA_TABLE
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

_NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")
_ERROR = struct.Struct("=i")
_U32 = struct.Struct("=I")
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLM_F_REPLACE, NLM_F_CREATE = 0x100, 0x400
RTA_DST, RTA_OIF, RTA_TABLE = 1, 4, 15
RTN_UNICAST, RTN_THROW = 1, 9
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_NOWHERE = 0, 253, 255
"""A deletion with scope NOWHERE matches a route of any scope."""
RT_TABLE_COMPAT = 252
"""What rtmsg.table says when the table number does not fit a byte (RTA_TABLE does)."""
_SEND_BYTES = 32 << 10
_RECEIVE_BYTES = 1 << 20
_LENGTH = {int(socket.AF_INET): 4, int(socket.AF_INET6): 16}


@dataclass(frozen=True, slots=True)
class RouteChange:
    """Make `prefix`'s route in `table` a "throw", a route out of interface `oif`
    ("dev"), or remove it ("absent")."""

    prefix: str
    state: str
    table: int
    protocol: int = 0
    oif: int = 0


@dataclass(frozen=True, slots=True)
class TableRoute:
    """A route found by `routes_of`, enough to delete it."""

    family: int
    dst: bytes
    dst_len: int
    type: int
    table: int
    protocol: int
    oif: int = 0
    """The interface it leads out of (0: none, e.g. a throw)."""

    @property
    def prefix(self) -> str:
        address = socket.inet_ntop(self.family, self.dst.ljust(_LENGTH[self.family], b"\0"))
        return f"{address}/{self.dst_len}"

    def __str__(self) -> str:
        kind = "throw " if self.type == RTN_THROW else ""
        return f"{kind}{self.prefix if self.dst_len else 'default'}"


class RouteSocket:
    """One rtnetlink socket (a context manager)."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BYTES)
            self._socket.bind((0, 0))
        except OSError:
            self._socket.close()
            raise
        self._sequence = 0

    def __enter__(self) -> RouteSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self._socket.close()

    def apply(self, changes: Iterable[RouteChange]) -> list[tuple[RouteChange, OSError]]:
        """Carry out `changes`; those the kernel refused, with why. Removing a route
        that is not there is not a failure."""
        return self._acknowledged((*_change_message(change), change) for change in changes)

    def delete(self, routes: Iterable[TableRoute]) -> list[tuple[RouteChange, OSError]]:
        """Remove `routes` (found by `routes_of`)."""
        return self.apply(RouteChange(r.prefix, "absent", r.table, r.protocol) for r in routes)

    def routes_of(
        self, family: int, table: int | None, protocol: int | None = None
    ) -> list[TableRoute]:
        """The routes of `table` (None: of every table) and of `protocol` (if given)
        in one address family."""
        self._sequence += 1
        body = _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
        self._socket.send(_message(RTM_GETROUTE, NLM_F_DUMP, self._sequence, body))
        found: list[TableRoute] = []
        while True:
            for kind, _, payload in _messages(self._socket.recv(_RECEIVE_BYTES)):
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    raise _error(payload)
                route = _parse_route(payload)
                if table in (None, route.table) and protocol in (None, route.protocol):
                    found.append(route)

    def _acknowledged(
        self, messages: Iterable[tuple[int, int, bytes, _Item]]
    ) -> list[tuple[_Item, OSError]]:
        """Send `messages` (type, flags, body, what it is for) in batches; what the kernel
        refused. rtnetlink handles a send before the call returns and answers only
        failures (no NLM_F_ACK), so after each send the answers are all there."""
        failed: list[tuple[_Item, OSError]] = []
        sent: dict[int, _Item] = {}
        batch = bytearray()
        for kind, flags, body, item in messages:
            self._sequence += 1
            sent[self._sequence] = item
            batch += _message(kind, flags, self._sequence, body)
            if len(batch) >= _SEND_BYTES:
                self._flush(batch, sent, failed)
                batch, sent = bytearray(), {}
        if batch:
            self._flush(batch, sent, failed)
        return failed

    def _flush(
        self, batch: bytearray, sent: dict[int, _Item], failed: list[tuple[_Item, OSError]]
    ) -> None:
        self._socket.send(batch)
        while True:
            try:
                data = self._socket.recv(_RECEIVE_BYTES, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            for kind, sequence, payload in _messages(data):
                item = sent.get(sequence)
                if item is None or kind != NLMSG_ERROR:
                    continue
                error = _error(payload)
                if error.errno and error.errno != errno.ESRCH:  # ESRCH: no such route
                    failed.append((item, error))


_Item = TypeVar("_Item")


def _message(kind: int, flags: int, sequence: int, body: bytes) -> bytes:
    return (
        _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, NLM_F_REQUEST | flags, sequence, 0) + body
    )


def _messages(data: bytes) -> Iterator[tuple[int, int, memoryview]]:
    """(type, sequence, payload) of each netlink message in `data`."""
    view = memoryview(data)
    offset = 0
    while offset + _NLMSGHDR.size <= len(view):
        length, kind, _, sequence, _ = _NLMSGHDR.unpack_from(view, offset)
        if length < _NLMSGHDR.size:
            return
        yield kind, sequence, view[offset + _NLMSGHDR.size : offset + length]
        offset += (length + 3) & ~3


def _error(payload: memoryview) -> OSError:
    (code,) = _ERROR.unpack_from(payload)
    return OSError(-code, os.strerror(-code) if code else "acknowledged")


def _attribute(kind: int, value: bytes) -> bytes:
    length = _RTATTR.size + len(value)
    return _RTATTR.pack(length, kind) + value + bytes(-length % 4)


def _change_message(change: RouteChange) -> tuple[int, int, bytes]:
    address, _, length = change.prefix.partition("/")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    packed, prefix_length = socket.inet_pton(family, address), int(length)
    if change.state == "absent":
        kind, flags, route_type, scope = RTM_DELROUTE, 0, 0, RT_SCOPE_NOWHERE
    elif change.state == "throw":
        kind, flags = RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE
        route_type, scope = RTN_THROW, RT_SCOPE_UNIVERSE
    else:
        kind, flags = RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE
        route_type, scope = RTN_UNICAST, RT_SCOPE_LINK
    body = _RTMSG.pack(
        family, prefix_length, 0, 0, RT_TABLE_COMPAT, change.protocol, scope, route_type, 0
    )
    if prefix_length:
        body += _attribute(RTA_DST, packed)
    body += _attribute(RTA_TABLE, _U32.pack(change.table))
    if change.state == "dev":
        body += _attribute(RTA_OIF, _U32.pack(change.oif))
    return kind, flags, body


def _parse_route(payload: memoryview) -> TableRoute:
    family, dst_len, _, _, table, protocol, _, route_type, _ = _RTMSG.unpack_from(payload)
    dst, oif = b"", 0
    offset = _RTMSG.size
    while offset + _RTATTR.size <= len(payload):
        length, kind = _RTATTR.unpack_from(payload, offset)
        if length < _RTATTR.size:
            break
        value = bytes(payload[offset + _RTATTR.size : offset + length])
        if kind == RTA_DST:
            dst = value
        elif kind == RTA_TABLE:
            (table,) = _U32.unpack(value)
        elif kind == RTA_OIF:
            (oif,) = _U32.unpack(value)
        offset += (length + 3) & ~3
    return TableRoute(family, dst, dst_len, route_type, table, protocol, oif)
