"""The LISP Internet Groper: one ECM Map-Request, the matching Map-Reply, the round trip."""

from __future__ import annotations

import secrets
import socket
import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

from lispstack.core.events import CONTROL_PORT, IPAddress
from lispstack.wire.address import with_instance_id
from lispstack.wire.control import ControlMessage, decode_control
from lispstack.wire.ecm import Ecm
from lispstack.wire.errors import DecodeError
from lispstack.wire.map_referral import MapReferral
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import EidRecord


@dataclass(frozen=True, slots=True)
class LigAnswer:
    reply: MapReply
    replier: str
    rtt_ms: float
    attempts: int
    ignored: int


def local_address_towards(destination: IPAddress) -> IPAddress:
    """The source address the kernel would use to reach `destination`."""
    family = socket.AF_INET if destination.version == 4 else socket.AF_INET6
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((str(destination), CONTROL_PORT))
        return ip_address(probe.getsockname()[0])


def open_itr_socket(
    source: IPAddress | None, towards: IPAddress
) -> tuple[socket.socket, IPAddress, int]:
    """A UDP socket bound to `source` (default: our address towards `towards`), an
    ephemeral port: (socket, ITR-RLOC, port). OSError says which address failed."""
    itr_rloc = source or local_address_towards(towards)
    family = socket.AF_INET if itr_rloc.version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((str(itr_rloc), 0))
    except OSError as error:
        sock.close()
        raise OSError(error.errno, f"cannot send from {itr_rloc}: {error.strerror}") from None
    return sock, itr_rloc, sock.getsockname()[1]


def ecm_map_request(
    eid: IPv4Address | IPv6Address,
    iid: int,
    itr_rloc: IPAddress,
    port: int,
    nonce: int,
    *,
    ddt: bool = False,
) -> bytes:
    """An ECM Map-Request for `eid` whose answers come back to `itr_rloc` at `port`."""
    request = MapRequest(
        nonce=nonce,
        itr_rlocs=(itr_rloc,),
        source_eid=itr_rloc,
        records=(EidRecord(eid=with_instance_id(iid, eid), eid_mask_len=eid.max_prefixlen),),
    )
    inner_destination = eid if eid.version == itr_rloc.version else itr_rloc
    ecm = Ecm(
        source=itr_rloc,
        destination=inner_destination,
        source_port=port,
        message=request,
        ddt=ddt,
    )
    return ecm.encode()


@dataclass(frozen=True, slots=True)
class Received:
    message: ControlMessage | None
    """None: the deadline passed first."""
    sender: str
    ignored: int
    """Datagrams that were not it (undecodable, another type or nonce)."""


def receive_answer(
    sock: socket.socket, deadline: float, kind: type[MapReply | MapReferral], nonce: int
) -> Received:
    """Read `sock` until a `kind` message with `nonce` arrives or `deadline` passes."""
    ignored = 0
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data, sender = sock.recvfrom(65535)
        except TimeoutError:
            break
        try:
            message = decode_control(data)
        except DecodeError:
            ignored += 1
            continue
        if isinstance(message, kind) and message.nonce == nonce:
            return Received(message, str(sender[0]), ignored)
        ignored += 1
    return Received(None, "", ignored)


def lig(
    eid: IPv4Address | IPv6Address,
    map_resolver: IPAddress,
    *,
    source: IPAddress | None = None,
    iid: int = 0,
    count: int = 3,
    timeout: float = 2.0,
) -> LigAnswer | None:
    """Send up to `count` Map-Requests, each waiting `timeout` s; None when nothing answered."""
    ignored = 0
    sock, itr_rloc, port = open_itr_socket(source, map_resolver)
    with sock:
        for attempt in range(1, count + 1):
            nonce = secrets.randbits(64)
            sent = time.monotonic()
            sock.sendto(
                ecm_map_request(eid, iid, itr_rloc, port, nonce), (str(map_resolver), CONTROL_PORT)
            )
            received = receive_answer(sock, sent + timeout, MapReply, nonce)
            ignored += received.ignored
            if isinstance(received.message, MapReply):
                rtt = (time.monotonic() - sent) * 1000
                return LigAnswer(received.message, received.sender, rtt, attempt, ignored)
    return None
