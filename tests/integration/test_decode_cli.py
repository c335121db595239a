"""`lispstack decode` on real captures from lispers.net and on hand-made payloads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lispstack.cli.main import main

CAPTURES = Path(__file__).parent.parent / "vectors" / "captures"
REGISTER = str(CAPTURES / "lispersnet-02-register-sha1-proxy-reply.pcap")


def _json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_register_capture_authenticates_with_the_right_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["decode", REGISTER, "--json", "--key", "wrong", "--key", "lispers-test-key"]) == 0
    frames = _json_lines(capsys)
    assert [f["message"]["type"] for f in frames] == [
        "map-register",
        "map-notify",
        "map-notify-ack",
    ]
    assert [f["message"]["auth"] for f in frames] == ["valid"] * 3
    assert frames[0]["src"] == "10.77.0.12:36267"
    assert frames[0]["dst"] == "10.77.0.11:4342"
    assert "notes" in frames[1]


def test_wrong_key_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", REGISTER, "--json", "--key", "not-the-key"]) == 1
    assert {f["message"]["auth"] for f in _json_lines(capsys)} == {"invalid"}


def test_without_key_auth_is_unchecked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", REGISTER, "--json"]) == 0
    assert {f["message"]["auth"] for f in _json_lines(capsys)} == {"unchecked"}


def test_negative_replies_text_dissection(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", str(CAPTURES / "lispersnet-03-lig-negative.pcap")]) == 0
    out = capsys.readouterr().out
    assert "ecm map-request nonce 0xddf0c1101d0edfdf" in out
    assert "action: natively-forward" in out
    assert "eid: 10.99.99.99/32" in out


def test_every_capture_decodes_without_malformed_frames(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for path in sorted(CAPTURES.glob("*.pcap")):
        assert main(["decode", str(path), "--json"]) == 0, path
        frames = _json_lines(capsys)
        assert frames and all("error" not in f for f in frames)


def test_corrupted_hex_payload_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--hex", "10000001", "--json"]) == 1
    (frame,) = _json_lines(capsys)
    assert "error" in frame and "byte" in frame["error"]


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


def test_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "/nonexistent/capture.pcap"]) == 2
    assert capsys.readouterr().err.startswith("lispstack decode: ")


def test_console_script() -> None:
    script = Path(sys.executable).parent / "lispstack"
    result = subprocess.run(
        [str(script), "decode", REGISTER, "--key", "lispers-test-key"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "auth: valid" in result.stdout
