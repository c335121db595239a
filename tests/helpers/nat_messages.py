"""Info-Request / Info-Reply bytes shared by the NAT-traversal tests."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address

from helpers.mapping_messages import SITES
from lispstack.wire import AlgorithmId
from lispstack.wire.auth import sign_encoded
from lispstack.wire.info import InfoRequest

RTR1 = IPv4Address("198.51.100.1")
RTR2 = IPv4Address("198.51.100.2")
NAT_PUBLIC = IPv4Address("203.0.113.7")
NAT_PORT = 61001
WITH_RTRS = SITES.replace(
    'eid-prefixes = ["192.168.1.0/24", "2001:db8:1::/48"]',
    'eid-prefixes = ["192.168.1.0/24", "2001:db8:1::/48"]\nrtrs = ["198.51.100.1", "198.51.100.2"]',
)
LISPERS_NET_REQUEST = bytes.fromhex("700000003d02ba32e448a7de0000000000000000000000000011766d00")
"""lispers.net's, as captured: no authentication, hostname after the EID."""

GOLDEN_REPLY = bytes.fromhex(
    "78000000000000000000123400020020"
    "3fa8285b201e438b84892d3f3586a696510daf135bd2f8248b6c322d051269e4"  # HMAC-SHA-256, KEY_A
    "000005a0"
    "00180001c0a80100"
    "400300000700001e"  # LCAF type 7, length 30
    "10f6ee49"  # MS UDP port 4342, ETR UDP port 61001
    "0001cb007107"  # global ETR RLOC 203.0.113.7
    "00010a0001fe"  # MS RLOC 10.0.1.254
    "0000"  # private ETR RLOC: AFI 0
    "0001c6336401"  # RTR RLOCs
    "0001c6336402"
)


def info_request(
    key: bytes,
    *,
    eid: str = "192.168.1.0",
    mask: int = 24,
    nonce: int = 0x1234,
    key_id: int = 0,
    algorithm: AlgorithmId = AlgorithmId.HMAC_SHA_256_128,
) -> bytes:
    """An ETR's Info-Request, signed like a Map-Register."""
    request = InfoRequest(
        nonce=nonce, key_id=key_id, algorithm=algorithm, eid=ip_address(eid), eid_mask_len=mask
    )
    if algorithm is AlgorithmId.NONE:
        return request.encode()
    return sign_encoded(request.encode(), algorithm, key)
