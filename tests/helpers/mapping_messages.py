"""Hand-built ETR and ITR messages for the Map-Server / Map-Resolver tests (no sockets)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import Action, DatagramReceived, Endpoint, SendDatagram
from lispstack.core.node import Node
from lispstack.wire import (
    AlgorithmId,
    Ecm,
    EidRecord,
    InstanceId,
    Locator,
    MapNotify,
    MappingRecord,
    MapRegister,
    MapReply,
    MapRequest,
    XtrId,
    decode_control,
)

IP = IPv4Address | IPv6Address

SITES = """
[node]
name = "mapserver"
roles = ["map-server", "map-resolver"]

[[sites]]
name = "site-a"
auth-key = "site-a-secret"
eid-prefixes = ["192.168.1.0/24", "2001:db8:1::/48"]

[[sites]]
name = "site-b"
auth-keys = [
    { id = 0, key = "site-b-secret" },
    { id = 7, key = "site-b-second", algorithm = "hmac-sha-1" },
]
eid-prefixes = ["192.168.2.0/24", "[200]10.221.0.0/16", "2001:db8:2::/48"]
accept-more-specifics = true
"""
KEY_A = b"site-a-secret"
KEY_B = b"site-b-secret"
MS = Endpoint(IPv4Address("10.0.1.254"), 4342)
MS6 = Endpoint(IPv6Address("fd00::254"), 4342)
LISP1 = IPv4Address("10.0.1.1")
LISP2 = IPv4Address("10.0.2.2")
LISP3 = IPv4Address("10.0.3.3")
ITR_PORT = 50000
ETR_PORT = 61000


def mapping_node(text: str = SITES) -> Node:
    """The node `lispstack run` builds from this configuration (fast paths included)."""
    return build_node(parse_config(text, "mapserver.toml"), random.Random(1))


def general_path_node(text: str = SITES) -> Node:
    """The same node with its control fast paths taken out: every datagram decoded."""
    node = mapping_node(text)
    node.use_control_fast_path(node.handle_control)
    node.answer_cached = None
    return node


def eid_address(eid: str, iid: int = 0) -> object:
    address = ip_address(eid)
    return InstanceId(iid, address) if iid else address


def record(
    eid: str,
    mask: int,
    *rlocs: IP,
    iid: int = 0,
    ttl: int = 3,
    priority: int = 1,
    weight: int = 100,
) -> MappingRecord:
    address = ip_address(eid)
    return MappingRecord(
        eid=InstanceId(iid, address) if iid else address,
        eid_mask_len=mask,
        ttl=ttl,
        authoritative=True,
        locators=tuple(
            Locator(address=r, priority=priority, weight=weight, local=True) for r in rlocs
        ),
    )


def register(
    records: Sequence[MappingRecord],
    key: bytes,
    *,
    nonce: int = 1,
    key_id: int = 0,
    algorithm: AlgorithmId = AlgorithmId.HMAC_SHA_256_128,
    proxy: bool = False,
    want_map_notify: bool = True,
    ttl_timeout: bool = False,
    xtr_id: int | None = None,
) -> bytes:
    """A signed Map-Register, as an ETR sends it (unsigned with algorithm "none")."""
    message = MapRegister(
        nonce=nonce,
        records=tuple(records),
        key_id=key_id,
        algorithm=algorithm,
        proxy_reply=proxy,
        want_map_notify=want_map_notify,
        use_ttl_for_timeout=ttl_timeout,
        xtr_id=None if xtr_id is None else XtrId(xtr_id, 0x5173),
    )
    if algorithm is AlgorithmId.NONE:
        return message.encode()
    return message.signed(key)[1]


def map_request(
    eid: str, *, nonce: int = 0xABC, iid: int = 0, itr_rlocs: Sequence[object] = (LISP1,)
) -> MapRequest:
    address = ip_address(eid)
    return MapRequest(
        nonce=nonce,
        itr_rlocs=tuple(itr_rlocs),  # type: ignore[arg-type]
        records=(
            EidRecord(
                eid=InstanceId(iid, address) if iid else address,
                eid_mask_len=address.max_prefixlen,
            ),
        ),
    )


def ecm_request(
    eid: str,
    *,
    nonce: int = 0xABC,
    iid: int = 0,
    itr_rlocs: Sequence[object] = (LISP1,),
    sport: int = ITR_PORT,
    ddt: bool = False,
) -> bytes:
    """An ITR's ECM Map-Request: inner header ITR-RLOC -> EID (`ddt`: as a DDT
    Map-Resolver passes it on, D bit set)."""
    request = map_request(eid, nonce=nonce, iid=iid, itr_rlocs=itr_rlocs)
    address = ip_address(eid)
    inner_source: IP = LISP1 if address.version == 4 else IPv6Address("2001:db8:1::1")
    return Ecm(
        source=inner_source, destination=address, source_port=sport, message=request, ddt=ddt
    ).encode()


def deliver(
    node: Node,
    payload: bytes,
    now: float,
    *,
    source: IP = LISP1,
    port: int = 4342,
    local: Endpoint = MS,
) -> list[Action]:
    return node.handle(DatagramReceived(payload, Endpoint(source, port), local), now)


def sends(actions: Sequence[Action]) -> list[SendDatagram]:
    return [a for a in actions if isinstance(a, SendDatagram)]


def only_reply(actions: Sequence[Action]) -> tuple[MapReply, SendDatagram]:
    (send,) = sends(actions)
    reply = decode_control(send.payload)
    assert isinstance(reply, MapReply)
    return reply, send


def notify_of_fields(register: bytes, key: bytes) -> bytes:
    """The Map-Notify answering `register`, built from its decoded fields (nonce,
    records, key id, algorithm, xTR-ID) and signed with `key`: the reference."""
    message = decode_control(register)
    assert isinstance(message, MapRegister)
    return MapNotify(
        nonce=message.nonce,
        records=message.records,
        key_id=message.key_id,
        algorithm=message.algorithm,
        i_bit=message.xtr_id is not None,
        xtr_id=message.xtr_id,
    ).signed(key)[1]
