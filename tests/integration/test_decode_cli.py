"""`lispstack decode` on real captures from lispers.net and on hand-made payloads."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lispstack.capture import build_udp_packet, pcap_bytes, read_capture
from lispstack.cli.decode_cmd import EXIT_CAPTURE_CUT
from lispstack.cli.main import main
from lispstack.wire import AlgorithmId, InfoReply, InfoRequest, decode_control
from lispstack.wire.auth import sign_encoded

CAPTURES = Path(__file__).parent.parent / "vectors" / "captures"
REGISTER = str(CAPTURES / "lispersnet-02-register-sha1-proxy-reply.pcap")
NEGATIVE = str(CAPTURES / "lispersnet-03-lig-negative.pcap")
IPV6_IID = str(CAPTURES / "lispersnet-04-lig-ipv6-and-iid.pcap")
INFO = str(CAPTURES / "lispersnet-06-info-request-reply.pcap")
KEY = "lispers-test-key"

# A Map-Request with one record, nonce 0x0102030405060708, ITR-RLOC 10.0.0.1,
# EID 192.168.2.1/32.
MAP_REQUEST_HEX = "100000010102030405060708000000010a00000100200001c0a80201"


def _json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _write_pcap(path: Path, packets: list[bytes], *, cut_last: int = 0) -> str:
    """A pcap of `packets`; `cut_last` bytes of the last frame not captured (snap length)."""
    data = pcap_bytes([(packet, 1700000000.0 + n) for n, packet in enumerate(packets)])
    if cut_last:
        offset = len(data) - len(packets[-1]) - 16
        sec, usec, caplen, origlen = struct.unpack_from("<IIII", data, offset)
        data = (
            data[:offset]
            + struct.pack("<IIII", sec, usec, caplen - cut_last, origlen)
            + data[offset + 16 : -cut_last]
        )
    path.write_bytes(data)
    return str(path)


# ---------------------------------------------------------------- capture 02: registration


def test_register_capture_authenticates_with_the_right_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["decode", REGISTER, "--json", "--key", "wrong", "--key", KEY]) == 0
    frames = _json_lines(capsys)
    assert [f["frame"] for f in frames] == [1, 2, 3]
    assert [f["message"]["type"] for f in frames] == [
        "map-register",
        "map-notify",
        "map-notify-ack",
    ]
    assert [f["message"]["auth"] for f in frames] == ["valid"] * 3
    assert {f["message"]["nonce"] for f in frames} == {"0x01dfdfdfddccbbaa"}
    assert {f["message"]["algorithm"] for f in frames} == {"hmac-sha-1-96"}
    assert {f["message"]["key_id"] for f in frames} == {0}
    assert frames[0]["src"] == "10.77.0.12:36267"
    assert frames[0]["dst"] == "10.77.0.11:4342"
    assert frames[1]["src"] == "10.77.0.11:4342"

    register = frames[0]["message"]
    assert register["proxy_reply"] is True
    assert register["want_map_notify"] is True
    assert register["use_ttl_for_timeout"] is True
    assert register["site_id"] == "0x0000000000000008"
    assert register["xtr_id"] == "0x0000000000000000dc3030be5d3cc9c3"
    records = register["records"]
    assert [(r["eid"], r["iid"], r["ttl"]) for r in records] == [
        ("10.211.1.0/24", 0, 3),
        ("fd00:211:1::/48", 0, 3),
        ("10.221.1.0/24", 200, 3),
    ]
    assert {r["action"] for r in records} == {"no-action"}
    assert [(x["address"], x["priority"], x["weight"]) for x in records[0]["rlocs"]] == [
        ("10.77.0.12", 1, 50),
        ("fd00:77::12", 1, 50),
    ]
    assert frames[1]["message"]["records"] == records
    assert frames[2]["message"]["records"] == []
    # lispers.net appends the xTR-ID / site-ID without the I bit: noted, not an error.
    assert "notes" not in frames[0]
    assert any("xTR-ID" in note for note in frames[1]["notes"])
    assert any("xTR-ID" in note for note in frames[2]["notes"])


def test_wrong_key_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", REGISTER, "--json", "--key", "not-the-key"]) == 1
    frames = _json_lines(capsys)
    assert [f["message"]["auth"] for f in frames] == ["invalid"] * 3


def test_wrong_key_text_marks_every_frame(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", REGISTER, "--key", "not-the-key"]) == 1
    heads = [line for line in capsys.readouterr().out.splitlines() if line.startswith("frame")]
    assert heads == [
        "frame 1  10.77.0.12:36267 -> 10.77.0.11:4342  "
        "map-register nonce 0x01dfdfdfddccbbaa, 3 records, auth invalid",
        "frame 2  10.77.0.11:4342 -> 10.77.0.12:36267  "
        "map-notify nonce 0x01dfdfdfddccbbaa, 3 records, auth invalid",
        "frame 3  10.77.0.12:36267 -> 10.77.0.11:4342  "
        "map-notify-ack nonce 0x01dfdfdfddccbbaa, auth invalid",
    ]


def test_without_key_auth_is_unchecked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", REGISTER, "--json"]) == 0
    assert [f["message"]["auth"] for f in _json_lines(capsys)] == ["unchecked"] * 3


def test_register_text_dissection_walks_records_and_rlocs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["decode", REGISTER, "--key", KEY]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "frame 1  10.77.0.12:36267 -> 10.77.0.11:4342  "
        "map-register nonce 0x01dfdfdfddccbbaa, 3 records, auth valid"
    )
    first = lines.index("  records:")
    assert lines[first + 1 : first + 9] == [
        "    record 1:",
        "      eid: 10.211.1.0/24",
        "      iid: 0",
        "      ttl: 3",
        "      action: no-action",
        "      authoritative: yes",
        "      map_version: 0",
        "      rlocs:",
    ]
    assert lines[first + 9 : first + 11] == ["        rloc 1:", "          address: 10.77.0.12"]
    assert "  proxy_reply: yes" in lines
    assert "  algorithm: hmac-sha-1-96" in lines
    assert "          address: fd00:77::12" in lines
    assert "      iid: 200" in lines
    notes = [line for line in lines if line.startswith("  note: ")]
    assert len(notes) == 2 and all("xTR-ID" in note for note in notes)


def test_console_script() -> None:
    script = Path(sys.executable).parent / "lispstack"
    result = subprocess.run(
        [str(script), "decode", REGISTER, "--key", KEY],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("  auth: valid") == 3
    assert result.stderr == ""


# ---------------------------------------------------------------- capture 03: negative replies


def test_negative_replies_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", NEGATIVE, "--json"]) == 0
    frames = _json_lines(capsys)
    assert [f["message"]["type"] for f in frames] == ["ecm", "map-reply"] * 3
    requests = [f["message"]["inner"]["message"] for f in frames[0::2]]
    replies = [f["message"] for f in frames[1::2]]
    assert {r["type"] for r in requests} == {"map-request"}
    nonces = ["0xddf0c1101d0edfdf", "0x26a7c1101d0edfdf", "0xc166c1101d0edfdf"]
    assert [r["nonce"] for r in requests] == nonces
    assert [r["nonce"] for r in replies] == nonces
    assert [r["records"][0]["eid"] for r in requests] == [
        "10.99.99.99/32",
        "10.231.5.5/32",
        "fd00:999::1/128",
    ]
    assert [r["itr_rlocs"] for r in requests] == [["10.77.0.13"]] * 3
    negative = [r["records"][0] for r in replies]
    assert [(n["eid"], n["ttl"]) for n in negative] == [
        ("10.99.99.99/32", 15),
        ("10.231.5.5/32", 1),
        ("fd00:999::1/128", 15),
    ]
    assert {n["action"] for n in negative} == {"natively-forward"}
    assert {n["authoritative"] for n in negative} == {False}
    assert [n["rlocs"] for n in negative] == [[]] * 3
    inner = frames[0]["message"]["inner"]
    assert (inner["src"], inner["dst"], inner["sport"], inner["dport"]) == (
        "10.77.0.13",
        "10.99.99.99",
        4342,
        4342,
    )
    # The IPv6 inner header of frame 5 has UDP checksum 0: noted, decoded anyway.
    assert any("checksum" in note for note in frames[4]["notes"])


def test_negative_replies_text_dissection(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", NEGATIVE]) == 0
    out = capsys.readouterr().out
    assert (
        "frame 1  10.77.0.13:4342 -> 10.77.0.11:4342  "
        "ecm map-request nonce 0xddf0c1101d0edfdf, 1 record\n" in out
    )
    assert (
        "frame 2  10.77.0.11:4342 -> 10.77.0.13:4342  "
        "map-reply nonce 0xddf0c1101d0edfdf, 1 record\n" in out
    )
    assert "      action: natively-forward\n" in out
    assert "      eid: 10.99.99.99/32\n" in out
    assert "      rlocs: (none)\n" in out
    assert "  note: ecm.inner: IPv6 UDP checksum is 0" in out


# ---------------------------------------------------------------- capture 04: IPv6 EID, iid


def test_ipv6_eid_and_instance_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", IPV6_IID, "--json"]) == 0
    frames = _json_lines(capsys)
    assert [f["message"]["type"] for f in frames] == ["ecm", "ecm", "map-reply"] * 2
    # The Map-Resolver forwards the ECM to the ETR from an ephemeral port.
    assert frames[1]["src"] == "10.77.0.11:37925"
    assert frames[1]["dst"] == "10.77.0.12:4342"
    ipv6_request = frames[0]["message"]["inner"]
    assert ipv6_request["src"] == "fd00:211:1::1"
    assert ipv6_request["message"]["records"] == [{"eid": "fd00:211:1::1/128", "iid": 0}]
    assert frames[3]["message"]["inner"]["message"]["records"] == [
        {"eid": "10.221.1.1/32", "iid": 200}
    ]
    reply_v6, reply_iid = frames[2]["message"], frames[5]["message"]
    assert reply_v6["nonce"] == "0xef9cc1101d0edfdf"
    assert reply_iid["nonce"] == "0x53eac1101d0edfdf"
    assert reply_v6["records"] == [
        {
            "eid": "fd00:211:1::/48",
            "iid": 0,
            "ttl": 1440,
            "action": "no-action",
            "authoritative": True,
            "map_version": 0,
            "rlocs": [
                {
                    "address": "10.77.0.12",
                    "priority": 1,
                    "weight": 100,
                    "m_priority": 255,
                    "m_weight": 0,
                    "local": True,
                    "probed": False,
                    "reachable": True,
                }
            ],
        }
    ]
    (record,) = reply_iid["records"]
    assert (record["eid"], record["iid"], record["ttl"]) == ("10.221.1.0/24", 200, 1440)


# ---------------------------------------------------------------- capture 06: Info-Request/Reply


def test_info_request_and_reply(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", INFO, "--json"]) == 0
    frames = _json_lines(capsys)
    assert [f["message"]["type"] for f in frames] == [
        "info-request",
        "info-reply",
        "ecm",
        "map-reply",
    ]
    request, reply = frames[0]["message"], frames[1]["message"]
    assert request["nonce"] == reply["nonce"] == "0x3d02ba32e448a7de"
    assert request["algorithm"] == "none"
    assert request["node_name"] == "vm"
    assert reply["global_etr_rloc"] == "10.77.0.13"
    assert reply["etr_udp_port"] == 55335
    assert any("distinguished name" in note for note in frames[0]["notes"])
    assert any("NAT-traversal LCAF length 16" in note for note in frames[1]["notes"])
    assert frames[0]["src"] == "10.77.0.13:55335"
    (record,) = frames[3]["message"]["records"]
    assert (record["eid"], record["ttl"], record["authoritative"]) == ("10.211.1.0/24", 1440, False)
    assert [r["address"] for r in record["rlocs"]] == ["10.77.0.12", "fd00:77::12"]


def test_every_capture_decodes_without_malformed_frames(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for path in sorted(CAPTURES.glob("*.pcap")):
        assert main(["decode", str(path), "--json"]) == 0, path
        frames = _json_lines(capsys)
        assert frames and all("error" not in f for f in frames)


# ---------------------------------------------------------------- hand-made payloads


def test_hex_map_request(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--hex", MAP_REQUEST_HEX, "--json"]) == 0
    (frame,) = _json_lines(capsys)
    message = frame["message"]
    assert message["type"] == "map-request"
    assert message["nonce"] == "0x0102030405060708"
    assert message["records"] == [{"eid": "192.168.2.1/32", "iid": 0}]


def test_corrupted_hex_payload_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    # The Map-Request above with its last two bytes missing.
    assert main(["decode", "--hex", MAP_REQUEST_HEX[:-4], "--json"]) == 1
    (frame,) = _json_lines(capsys)
    assert "message" not in frame
    assert "byte" in frame["error"]
    assert main(["decode", "--hex", MAP_REQUEST_HEX[:-4]]) == 1
    assert "MALFORMED: " in capsys.readouterr().out


def test_unknown_message_type_is_malformed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--hex", "f0000000"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("frame 1 ") and "MALFORMED: unknown message type 15" in out


def test_lcafs_nested_400_deep_are_malformed_not_a_crash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Issue 11.1: the MAP_REQUEST_HEX request with a source EID inside 400 AFI-list LCAFs.
    eid = bytes.fromhex("00010a000001")
    for _ in range(400):
        eid = struct.pack("!HBBBBH", 16387, 0, 0, 1, 0, len(eid)) + eid
    payload = bytes.fromhex(MAP_REQUEST_HEX)
    nested = (payload[:12] + eid + payload[14:]).hex()
    assert main(["decode", "--hex", nested]) == 1
    out = capsys.readouterr().out
    assert "MALFORMED: LCAF nested 5 deep" in out and len(out.splitlines()) == 1


def test_data_packet_from_hex(capsys: pytest.CaptureFixture[str]) -> None:
    header = "c0abcdef00000001"
    inner = "4500001c000040004001" + "0000" + "c0a80101c0a80201" + "0800f7ff00000000"
    assert main(["decode", "--hex", header + inner, "--port", "4341", "--json"]) == 0
    (frame,) = _json_lines(capsys)
    assert frame["message"]["type"] == "data"
    assert frame["message"]["inner"] == {
        "src": "192.168.1.1",
        "dst": "192.168.2.1",
        "protocol": 1,
        "length": 28,
    }


def test_ipv6_endpoints_and_cut_frames(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = bytes.fromhex(MAP_REQUEST_HEX)
    ok = build_udp_packet("fd00::1", "fd00::2", 4342, 4342, payload)
    other = build_udp_packet("10.0.0.1", "10.0.0.2", 53, 5353, b"not lisp")
    cut = build_udp_packet("10.0.0.1", "10.0.0.2", 61000, 4342, payload)
    path = _write_pcap(tmp_path / "mixed.pcap", [ok, other, cut], cut_last=4)
    assert main(["decode", path, "--json"]) == 1
    frames = _json_lines(capsys)
    assert [f["frame"] for f in frames] == [1, 3]  # frame 2 is not LISP
    assert frames[0]["src"] == "[fd00::1]:4342"
    assert frames[0]["dst"] == "[fd00::2]:4342"
    assert frames[0]["message"]["nonce"] == "0x0102030405060708"
    assert frames[1]["src"] == "10.0.0.1:61000"
    assert "cut short" in frames[1]["error"]


def test_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "/nonexistent/capture.pcap"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("lispstack decode: ")
    assert len(captured.err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["decode"],
        ["decode", "--hex", "zz"],
        ["decode", "--hex", "10", "--port", "53"],
        ["decode", __file__],
    ],
)
def test_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lispstack decode: ") and len(err.splitlines()) == 1


def test_pcapng_with_data_and_control_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inner = bytes.fromhex("4500001c0000400040010000c0a80101c0a802010800f7ff00000000")
    data = bytes.fromhex("c8abcdef0000c801") + inner  # N, L, I: nonce 0xabcdef, iid 200
    packets = [
        build_udp_packet("10.0.1.1", "10.0.2.2", 50123, 4341, data),
        build_udp_packet("10.0.1.1", "10.0.1.254", 4342, 4342, bytes.fromhex(MAP_REQUEST_HEX)),
    ]
    pcap = _write_pcap(tmp_path / "mixed.pcap", packets)
    editcap = shutil.which("editcap")
    if editcap is None:
        pytest.skip("editcap (Wireshark) is not installed")
    pcapng = tmp_path / "mixed.pcapng"
    subprocess.run([editcap, "-F", "pcapng", pcap, str(pcapng)], check=True, timeout=60)
    assert main(["decode", str(pcapng)]) == 0
    heads = [line for line in capsys.readouterr().out.splitlines() if line.startswith("frame")]
    assert heads == [
        "frame 1  10.0.1.1:50123 -> 10.0.2.2:4341  "
        "data nonce 0xabcdef, iid 200, inner 192.168.1.1 -> 192.168.2.1 protocol 1",
        "frame 2  10.0.1.1:4342 -> 10.0.1.254:4342  map-request nonce 0x0102030405060708, 1 record",
    ]
    assert main(["decode", str(pcapng), "--json"]) == 0
    data_frame, _ = _json_lines(capsys)
    message = data_frame["message"]
    assert (message["type"], message["instance_id"], message["nonce"]) == ("data", 200, "0xabcdef")
    assert message["inner"]["dst"] == "192.168.2.1"


# ---------------------------------------------------------------- issue 12.7 stumbles


@pytest.mark.parametrize("empty", ["", "  ", "0x", ": -"])
def test_an_empty_hex_payload_is_a_usage_error(
    empty: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["decode", "--hex", empty]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "lispstack decode: --hex: nothing to decode (no hex digits)\n"


def _signed_info(frame: int, algorithm: AlgorithmId, key: str) -> bytes:
    """Frame `frame` of the lispers.net Info capture, signed with `key` (sent unsigned)."""
    unsigned = decode_control(read_capture(INFO).datagrams[frame - 1].payload)
    assert isinstance(unsigned, InfoRequest | InfoReply)
    blank = replace(unsigned, algorithm=algorithm, auth_data=bytes(algorithm.digest_length))
    return sign_encoded(blank.encode(), algorithm, key.encode())


@pytest.mark.parametrize(
    ("frame", "algorithm"),
    [(1, AlgorithmId.HMAC_SHA_256_128), (2, AlgorithmId.HMAC_SHA_1_96)],
    ids=["info-request", "info-reply"],
)
def test_info_messages_are_authenticated_with_key(
    frame: int, algorithm: AlgorithmId, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = _signed_info(frame, algorithm, "site-a-secret").hex()
    assert main(["decode", "--hex", signed, "--json", "--key", "site-a-secret"]) == 0
    (decoded,) = _json_lines(capsys)
    assert decoded["message"]["auth"] == "valid"
    assert main(["decode", "--hex", signed, "--json", "--key", "another-key"]) == 1
    (decoded,) = _json_lines(capsys)
    assert decoded["message"]["auth"] == "invalid"
    assert main(["decode", "--hex", signed, "--key", "another-key"]) == 1
    assert "auth invalid" in capsys.readouterr().out.splitlines()[0]
    assert main(["decode", "--hex", signed, "--json"]) == 0
    (decoded,) = _json_lines(capsys)
    assert decoded["message"]["auth"] == "unchecked"


def test_unauthenticated_lispers_net_info_messages_are_accepted_with_a_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["decode", INFO, "--json", "--key", KEY]) == 0
    request, reply = _json_lines(capsys)[:2]
    for frame in (request, reply):
        assert frame["message"]["algorithm"] == "none"
        assert frame["message"]["auth"] == "unchecked"
        assert any("no authentication data" in note for note in frame["notes"])


def test_echo_nonce_without_nonce_is_noted(capsys: pytest.CaptureFixture[str]) -> None:
    inner = "4500001c000040004001" + "0000" + "c0a80101c0a80201" + "0800f7ff00000000"
    e_without_n = "2000000000000001"  # E set, N clear: RFC 9300 section 5.3 says ignore E
    assert main(["decode", "--hex", e_without_n + inner, "--port", "4341", "--json"]) == 0
    (frame,) = _json_lines(capsys)
    assert frame["message"]["echo_nonce"] is True and frame["message"]["nonce_present"] is False
    assert frame["notes"] == [
        "E (echo-nonce request) is set but N (nonce present) is clear: E is ignored "
        "(RFC 9300 section 5.3)"
    ]
    with_n = "a0abcdef00000001"  # N and E: a real echo-nonce request, nothing to note
    assert main(["decode", "--hex", with_n + inner, "--port", "4341", "--json"]) == 0
    (frame,) = _json_lines(capsys)
    assert "notes" not in frame


FRAME = len(MAP_REQUEST_HEX) // 2 + 28  # raw IPv4 + UDP headers, then the Map-Request


def _cut_capture(tmp_path: Path, missing: int) -> tuple[str, int]:
    """Three Map-Request frames, the file cut `missing` bytes before its end; the byte
    offset where the third frame's data starts."""
    payload = bytes.fromhex(MAP_REQUEST_HEX)
    packets = [build_udp_packet("10.0.0.1", "10.0.0.2", 4342, 4342, payload)] * 3
    path = Path(_write_pcap(tmp_path / "cut.pcap", packets))
    data = path.read_bytes()
    path.write_bytes(data[:-missing])
    return str(path), len(data) - FRAME


def test_a_capture_cut_short_decodes_what_is_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, third = _cut_capture(tmp_path, missing=10)
    assert main(["decode", path, "--json"]) == EXIT_CAPTURE_CUT == 3
    captured = capsys.readouterr()
    assert [json.loads(line)["frame"] for line in captured.out.splitlines()] == [1, 2]
    assert captured.err == (
        f"lispstack decode: {path}: the capture stops at byte {third}: frame 3 is cut "
        f"short: {FRAME - 10} of {FRAME} bytes; decoded the 2 frames before it\n"
    )
    assert main(["decode", path]) == 3
    heads = [line for line in capsys.readouterr().out.splitlines() if line.startswith("frame")]
    assert len(heads) == 2


def test_a_capture_cut_in_a_record_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = _cut_capture(tmp_path, missing=FRAME + 6)
    assert main(["decode", path, "--json"]) == 3
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert "record header of frame 3" in captured.err and "at byte" in captured.err
