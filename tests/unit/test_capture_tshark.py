"""Cross-checks with Wireshark's dissector: our builders and tshark agree."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from helpers.tshark import DATA_PORT, Probe, check_payloads, check_pcap
from lispstack.capture import LinkType, build_udp_packet, write_pcap

pytestmark = pytest.mark.tshark

CAPTURES = Path(__file__).parent.parent / "vectors" / "captures"

# RFC 9301 section 5.2, built field by field:
MAP_REQUEST = bytes.fromhex(
    "10"  # Type 1, A M P S = 0
    "00"  # p s and reserved
    "00"  # reserved, L D = 0, IRC 0 (one ITR-RLOC)
    "01"  # Record Count 1
    "0123456789abcdef"  # Nonce
    "0001c0a80101"  # Source-EID-AFI 1, 192.168.1.1
    "00010a000101"  # ITR-RLOC-AFI 1, 10.0.1.1
    "00"  # record: Reserved
    "20"  # EID mask-len 32
    "0001c0a80201"  # EID-Prefix-AFI 1, 192.168.2.1
)


def test_tshark_flags_only_the_truncated_map_request() -> None:
    good, cut = check_payloads([MAP_REQUEST, MAP_REQUEST[:-2]])
    assert good.clean, good.problems()
    assert good.value("lisp.type") == "1"
    assert good.value("lisp.nonce") == "0x0123456789abcdef"
    assert good.value("lisp.irc") == "0"
    assert good.value("lisp.records") == "1"
    assert good.value("lisp.mreq.srceid.ipv4") == "192.168.1.1"
    assert good.value("lisp.mreq.itr_rloc_ipv4") == "10.0.1.1"
    assert good.value("lisp.mreq.record.prefix.length") == "32"
    assert good.value("lisp.mreq.record.prefix.ipv4") == "192.168.2.1"
    assert cut.is_lisp
    assert cut.malformed
    assert not cut.clean


def test_tshark_reports_trailing_bytes_as_undissected() -> None:
    (frame,) = check_payloads([MAP_REQUEST + b"\xaa\xbb"])
    assert not frame.malformed
    assert frame.undissected == b"\xaa\xbb"
    assert not frame.clean


def test_builders_pass_tshark_checksum_validation() -> None:
    probes = [
        Probe(MAP_REQUEST, src="10.0.1.1", dst="10.0.1.254", sport=61000),
        Probe(MAP_REQUEST, src="fd00::1", dst="fd00::2"),
    ]
    frames = check_payloads(probes)
    assert [f.clean for f in frames] == [True, True], [f.problems() for f in frames]


def test_data_port_is_dissected_as_lisp_data() -> None:
    inner = build_udp_packet("192.168.1.1", "192.168.2.1", 1000, 2000, b"ping")
    header = bytes.fromhex("c0123456") + struct.pack("!I", 1)  # N and L bits, nonce, LSB 1
    (frame,) = check_payloads([Probe(header + inner, port=DATA_PORT)])
    assert "lisp-data" in frame.protocols
    assert frame.value("lisp-data.nonce") == str(0x123456)
    assert frame.clean, frame.problems()


def test_map_notify_ack_is_rechecked_as_map_notify() -> None:
    ack = bytes.fromhex("50000000010203040506070800000000")  # no records, no auth
    (frame,) = check_payloads([ack])
    assert frame.checked_as == 4
    assert frame.value("lisp.type") == "4"
    assert frame.value("lisp.nonce") == "0x0102030405060708"
    (raw,) = check_payloads([ack], recheck_map_notify_ack=False)
    assert raw.checked_as is None
    assert raw.value("lisp.type") == "5"


def test_real_capture_problems_match_its_readme() -> None:
    frames = check_pcap(CAPTURES / "lispersnet-04-lig-ipv6-and-iid.pcap")
    flagged = [f.frame for f in frames if not f.clean]
    # the inner IPv6 UDP checksum 0 of the two IPv6 ECMs, and nothing else
    assert flagged == [1, 2]
    assert all("Illegal checksum value (0)" in " ".join(frames[i].problems()) for i in (0, 1))
    acks = check_pcap(CAPTURES / "lispersnet-02-register-sha1-proxy-reply.pcap")
    assert acks[2].checked_as == 4
    assert len(acks[2].undissected) == 24  # the xTR-ID and site-ID sent without the I bit


def test_ethernet_pcap_from_our_writer_reads_in_tshark(tmp_path: Path) -> None:
    path = tmp_path / "eth.pcap"
    write_pcap(
        path,
        [(build_udp_packet("10.0.1.1", "10.0.1.254", 4342, 4342, MAP_REQUEST), 2.5)],
        linktype=LinkType.ETHERNET,
    )
    (frame,) = check_pcap(path, check_checksums=True)
    assert "eth" in frame.protocols
    assert frame.clean, frame.problems()
