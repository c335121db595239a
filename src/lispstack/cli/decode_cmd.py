"""`lispstack decode`: dissect every LISP control and data packet of a capture."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lispstack.capture import CaptureError, read_capture
from lispstack.cli.dissect import (
    CONTROL_PORT,
    DecodedFrame,
    decode_datagram,
    decode_payload,
    lisp_port,
    render_text,
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "decode",
        help="decode the LISP packets of a pcap/pcapng capture or a hex payload",
        description="Decode every LISP control (UDP 4342) and data (UDP 4341) packet. "
        "Exit 1 if any LISP frame is malformed or fails authentication.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("file", nargs="?", help="a .pcap or .pcapng capture")
    source.add_argument("--hex", help="one UDP payload as hex")
    parser.add_argument(
        "--port", type=int, default=CONTROL_PORT, help="with --hex: 4342 control, 4341 data"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per frame")
    parser.add_argument(
        "--key", action="append", default=[], help="authentication key to verify with"
    )
    parser.set_defaults(handler=run)


def _fail(reason: str) -> int:
    print(f"lispstack decode: {reason}", file=sys.stderr)
    return 2


def parse_hex(text: str) -> bytes:
    """Hex digits, optionally `0x`-prefixed and split by spaces, colons or dashes."""
    cleaned = "".join(text.split()).replace(":", "").replace("-", "")
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    return bytes.fromhex(cleaned)


def _frames(args: argparse.Namespace, keys: list[bytes]) -> list[DecodedFrame]:
    if args.hex is not None:
        payload = parse_hex(args.hex)
        return [decode_payload(1, "-", f"-:{args.port}", payload, args.port, keys)]
    capture = read_capture(args.file)
    frames = []
    for datagram in capture.datagrams:
        port = lisp_port(datagram)
        if port is not None:
            frames.append(decode_datagram(datagram, port, keys))
    return frames


def run(args: argparse.Namespace) -> int:
    if args.hex is None and args.file is None:
        return _fail("give a capture file (.pcap or .pcapng) or --hex HEX")
    if args.hex is not None and args.port not in (4341, 4342):
        return _fail(f"--port {args.port}: expected 4342 (control) or 4341 (data)")
    keys = [key.encode() for key in args.key]
    try:
        frames = _frames(args, keys)
    except CaptureError as error:
        return _fail(str(error))
    except ValueError:
        return _fail("--hex: not a hexadecimal string")
    except OSError as error:
        return _fail(f"{args.file}: {error.strerror or error}")
    for frame in frames:
        print(json.dumps(frame.to_json()) if args.json else render_text(frame))
    if not frames and not args.json:
        print("no LISP frames")
    return 1 if any(frame.failed for frame in frames) else 0
