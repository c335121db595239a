"""Broken capture files raise CaptureError and nothing else."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lispstack.capture import (
    Capture,
    CaptureError,
    build_udp_packet,
    parse_capture,
    pcap_bytes,
    read_capture,
)

CAPTURES = Path(__file__).parent.parent / "vectors" / "captures"
PACKET = build_udp_packet("10.0.0.1", "10.0.0.2", 4342, 4342, b"\x10abc")
RECORD_LEN = 16 + len(PACKET)
GOOD = pcap_bytes([(PACKET, 1.0)] * 2)
NANO_BE = (
    struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 101)
    + struct.pack(">IIII", 5, 250_000_000, 32, 32)
    + build_udp_packet("10.0.0.1", "10.0.0.2", 1, 4341, b"\xc0abc")
)


def test_big_endian_nanosecond_pcap() -> None:
    capture = parse_capture(NANO_BE)
    (datagram,) = capture.datagrams
    assert (datagram.timestamp, datagram.dport, datagram.payload) == (5.25, 4341, b"\xc0abc")


def test_every_truncation_of_a_pcap_raises() -> None:
    assert len(GOOD) == 24 + 2 * RECORD_LEN
    for cut in range(len(GOOD)):
        if cut >= 24 and (cut - 24) % RECORD_LEN == 0:
            # a cut between records leaves a valid, shorter file
            assert parse_capture(GOOD[:cut]).frame_count == (cut - 24) // RECORD_LEN
            continue
        with pytest.raises(CaptureError):
            parse_capture(GOOD[:cut])


def test_truncated_real_capture_names_the_frame() -> None:
    data = (CAPTURES / "lispersnet-02-register-sha1-proxy-reply.pcap").read_bytes()
    with pytest.raises(CaptureError, match=r"frame 3 is cut short: \d+ of 102 bytes"):
        parse_capture(data[:-10])
    with pytest.raises(CaptureError, match=r"truncated record header of frame 3"):
        parse_capture(data[: 24 + 2 * (16 + 234) + 5])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"GIF89a not a capture", "not a pcap or pcapng capture"),
        (GOOD[:10], "truncated pcap file header"),
        (GOOD[:4] + b"\x03\x00" + GOOD[6:], "unsupported pcap version 3"),
    ],
)
def test_not_a_capture(data: bytes, message: str) -> None:
    with pytest.raises(CaptureError, match=message):
        parse_capture(data)


def test_missing_file_is_a_capture_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot read"):
        read_capture(tmp_path / "missing.pcap")


def test_errors_from_files_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    path.write_bytes(GOOD[:-3])
    with pytest.raises(CaptureError, match=r"cut\.pcap: frame 2 is cut short") as info:
        read_capture(path)
    assert info.value.offset == 24 + RECORD_LEN + 16


def parse_or_error(data: bytes) -> Capture | CaptureError:
    """The capture, or the CaptureError it raised (any other exception fails the test)."""
    try:
        return parse_capture(data)
    except CaptureError as e:
        return e


def assert_consistent(result: Capture | CaptureError) -> None:
    if isinstance(result, CaptureError):
        assert result.reason
    else:
        assert result.frame_count == len(result.datagrams) + len(result.skipped)


@given(st.binary(max_size=400))
def test_random_bytes_raise_only_capture_error(data: bytes) -> None:
    assert_consistent(parse_or_error(data))


@given(st.sampled_from([b"\x0a\x0d\x0d\x0a", GOOD[:24], NANO_BE[:24]]), st.binary(max_size=400))
def test_random_bytes_after_a_valid_magic_raise_only_capture_error(
    head: bytes, tail: bytes
) -> None:
    assert_consistent(parse_or_error(head + tail))


@given(st.integers(0, 300), st.binary(max_size=120))
def test_random_packets_in_a_valid_file_never_raise(linktype: int, packet: bytes) -> None:
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    record = struct.pack("<IIII", 1, 0, len(packet), len(packet)) + packet
    capture = parse_capture(header + record)
    assert capture.frame_count == 1
    assert len(capture.datagrams) + len(capture.skipped) == 1


@given(st.binary(min_size=1, max_size=100))
def test_random_ip_payloads_never_raise(garbage: bytes) -> None:
    # A valid-looking IPv4 / IPv6 start followed by garbage.
    for first in (b"\x45", b"\x46", b"\x60"):
        packet = first + garbage
        data = pcap_bytes([(packet, 1.0)]) if packet[0] >> 4 in (4, 6) else GOOD
        capture = parse_capture(data)
        assert capture.frame_count >= 1
