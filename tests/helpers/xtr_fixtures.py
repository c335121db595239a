"""Configurations and packets for the ITR / ETR tests (seed-scenario addresses)."""

from __future__ import annotations

import random
import struct
from ipaddress import ip_address

from lispstack.config import parse_config
from lispstack.config.model import NodeConfig
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.etr import Etr
from lispstack.core.events import Action, DatagramReceived, Endpoint
from lispstack.core.itr import Itr
from lispstack.core.xtr import build_xtr_roles
from lispstack.mapping.prefix import EidPrefix
from lispstack.wire.address import with_instance_id
from lispstack.wire.control import decode_control
from lispstack.wire.ip_udp import build_ipv4, build_udp_packet
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import Locator, MappingRecord

LISP1 = """
[node]
name = "lisp1"
roles = ["itr", "etr"]
[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{ address = "10.0.1.1", priority = 1, weight = 100 }]
[[map-servers]]
address = "10.0.1.254"
auth-key = "site-a-secret"
algorithm = "ALGO"
proxy-reply = PROXY
want-map-notify = true
[[map-resolvers]]
address = "10.0.1.254"
"""

TENANT_INSTANCES = """
[[instances]]
iid = 100
interfaces = ["t100"]
table = 100
[[instances]]
iid = 200
interfaces = ["t200"]
table = 200
"""
"""Two tenants' routing domains (instance-ids 100 and 200)."""
TENANTS = (
    """
[[database-mappings]]
eid-prefix = "[100]10.1.0.0/24"
rlocs = [{ address = "10.0.1.1" }]
[[database-mappings]]
eid-prefix = "[200]10.1.0.0/24"
rlocs = [{ address = "10.0.1.1" }]
"""
    + TENANT_INSTANCES
)
"""The same EID prefix 10.1.0.0/24 in both tenants, for lisp1_config(extra=...)."""


def lisp1_config(
    *, algorithm: str = "hmac-sha-256", proxy_reply: bool = False, extra: str = ""
) -> NodeConfig:
    text = LISP1.replace("ALGO", algorithm).replace("PROXY", str(proxy_reply).lower()) + extra
    return parse_config(text, "lisp1.toml")


def lisp2_config(*, proxy_reply: bool = False) -> NodeConfig:
    text = (
        LISP1.replace("lisp1", "lisp2")
        .replace("192.168.1.0", "192.168.2.0")
        .replace("10.0.1.1", "10.0.2.2")
        .replace("10.0.1.254", "10.0.2.254")
        .replace("site-a", "site-b")
        .replace("ALGO", "hmac-sha-256")
        .replace("PROXY", str(proxy_reply).lower())
    )
    return parse_config(text, "lisp2.toml")


def build_xtr(
    config: NodeConfig, seed: int = 1, rng: random.Random | None = None
) -> tuple[Etr, Itr, Counters]:
    """The ETR and ITR of `config`, drawing from `rng` (default: random.Random(seed));
    without NAT traversal (tests/sim/test_nat_sim.py has it)."""
    counters = Counters()
    rng = random.Random(seed) if rng is None else rng
    roles = build_xtr_roles(config, counters, DropRecorder(counters), rng)
    etr, itr = roles[:2]
    assert isinstance(etr, Etr) and isinstance(itr, Itr)
    return etr, itr, counters


def icmp(src: str, dst: str, payload: bytes = b"\x08\x00ping") -> bytes:
    return build_ipv4(ip_address(src), ip_address(dst), 1, payload)  # type: ignore[arg-type]


def udp(src: str, dst: str, sport: int, dport: int) -> bytes:
    return build_udp_packet(src, dst, sport, dport, b"data")


def datagram(payload: bytes, src: str, sport: int, dst: str, dport: int) -> DatagramReceived:
    return DatagramReceived(
        payload, Endpoint(ip_address(src), sport), Endpoint(ip_address(dst), dport)
    )


def ones_sum(data: bytes) -> int:
    """The 16-bit one's complement sum, word by word (RFC 1071), written apart from the code."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return total


PAYLOAD = bytes(range(256)) * 40


def udp4(size: int, *, df: bool = True, src: str = "192.168.1.1") -> bytes:
    """An IPv4 UDP packet of `size` bytes in all, DF set or clear."""
    packet = bytearray(build_udp_packet(src, "192.168.2.1", 40000, 9000, PAYLOAD[: size - 28]))
    packet[6] = 0x40 if df else 0
    packet[10:12] = b"\0\0"
    packet[10:12] = (0xFFFF - ones_sum(bytes(packet[:20]))).to_bytes(2, "big")
    return bytes(packet)


def udp6(size: int, src: str = "fd00:1::1") -> bytes:
    packet = build_udp_packet(src, "fd00:2::1", 40000, 9000, PAYLOAD[: size - 48])
    assert len(packet) == size
    return packet


def answer(
    itr: Itr, request: MapRequest, eid: str, rloc: str, reply_from: str = "10.0.2.2"
) -> list[Action]:
    """What `itr` does with a positive Map-Reply to `request`: `eid` ("[IID]prefix")
    at `rloc`."""
    prefix = EidPrefix.parse(eid)
    record = MappingRecord(
        eid=with_instance_id(prefix.iid, prefix.network.network_address),
        eid_mask_len=prefix.network.prefixlen,
        ttl=60,
        authoritative=True,
        locators=(Locator(address=ip_address(rloc)),),
    )
    payload = MapReply(nonce=request.nonce, records=(record,)).encode()
    message = decode_control(payload)
    return itr.handle_control(message, datagram(payload, reply_from, 4342, "10.0.1.1", 4342), 0.1)
