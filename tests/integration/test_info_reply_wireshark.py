"""Wireshark (tshark) reads the Map-Server's Info-Reply as we meant it (NAT traversal)."""

from __future__ import annotations

import pytest

from helpers.mapping_messages import KEY_A
from helpers.nat_messages import GOLDEN_REPLY, NAT_PORT, NAT_PUBLIC, info_request
from helpers.tshark import Probe, check_payloads

pytestmark = pytest.mark.tshark


def test_wireshark_parses_the_map_servers_info_request_and_reply() -> None:
    request, reply = check_payloads(
        [
            Probe(info_request(KEY_A), src=str(NAT_PUBLIC), dst="10.0.1.254", sport=NAT_PORT),
            Probe(GOLDEN_REPLY, src="10.0.1.254", dst=str(NAT_PUBLIC), sport=4342),
        ]
    )
    assert request.clean, request.problems()
    assert reply.clean, reply.problems()
    assert request.value("lisp.info.r") == "0" and reply.value("lisp.info.r") == "1"
    assert reply.value("lisp.nonce") == "0x0000000000001234"
    assert reply.value("lisp.info.ttl") == "1440"
    assert reply.value("lisp.authlen") == "32"
    assert reply.value("lisp.lcaf.natt.msport") == "4342"
    assert reply.value("lisp.lcaf.natt.etrport") == str(NAT_PORT)
    assert reply.fields["lisp.lcaf.natt.rloc.ipv4"] == [
        str(NAT_PUBLIC),
        "10.0.1.254",
        "198.51.100.1",
        "198.51.100.2",
    ]
