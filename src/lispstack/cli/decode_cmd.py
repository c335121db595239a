"""`lispstack decode`: dissect every LISP control and data packet of a capture.

Exit codes: 0 every LISP frame decoded (and authenticated, with --key);
1 a LISP frame is malformed or fails authentication; 2 usage errors (no
input, empty or bad --hex, a file that is not a pcap/pcapng capture);
3 the capture stops in the middle (cut short, or garbled from some byte
on): every frame before the cut is decoded and printed, then the cut is
reported with its byte offset.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lispstack.capture import (
    CaptureError,
    UdpDatagram,
    capture_format,
    iter_frames,
    udp_datagram_of,
)
from lispstack.cli.dissect import (
    CONTROL_PORT,
    DecodedFrame,
    decode_datagram,
    decode_payload,
    lisp_port,
    render_text,
)
from lispstack.lab.topology import TopologyError, address_names, load_topology
from lispstack.pictures.ladder import Seen, build_ladder, hop_limit
from lispstack.pictures.ladder_svg import write_ladder

EXIT_FAILED_FRAME = 1
EXIT_USAGE = 2
EXIT_CAPTURE_CUT = 3


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "decode",
        help="decode the LISP packets of a pcap/pcapng capture or a hex payload",
        description="Decode every LISP control (UDP 4342) and data (UDP 4341) packet. "
        "Exit 1 if any LISP frame is malformed or fails authentication, 2 on a usage "
        "error, 3 if the capture stops in the middle (the frames before are decoded).",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("file", nargs="?", help="a .pcap or .pcapng capture")
    source.add_argument("--hex", help="one UDP payload as hex")
    parser.add_argument(
        "--port", type=int, default=CONTROL_PORT, help="with --hex: 4342 control, 4341 data"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per frame")
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        help="authentication key to verify Map-Register, Map-Notify(-Ack) and Info messages "
        "with (repeat for several)",
    )
    parser.add_argument(
        "--ladder",
        metavar="OUT",
        help="draw the messages as a ladder diagram into OUT.svg (or OUT.html: the same "
        "picture with the whole message shown on hovering an arrow) instead of printing them",
    )
    parser.add_argument(
        "--topology",
        help="with --ladder: the lab topology the capture comes from (a TOML file or a "
        "built-in name, e.g. seed): columns named by node instead of address",
    )
    parser.set_defaults(handler=run)


def _fail(reason: str, code: int = EXIT_USAGE) -> int:
    print(f"lispstack decode: {reason}", file=sys.stderr)
    return code


def parse_hex(text: str) -> bytes:
    """Hex digits, optionally `0x`-prefixed and split by spaces, colons or dashes."""
    cleaned = "".join(text.split()).replace(":", "").replace("-", "")
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    return bytes.fromhex(cleaned)


class _Output:
    """Prints each frame as it is decoded (or keeps it for the ladder); remembers whether
    any failed."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.count = 0
        self.failed = False

    def frame(self, frame: DecodedFrame, datagram: UdpDatagram | None = None) -> None:
        print(json.dumps(frame.to_json()) if self.as_json else render_text(frame))
        self.count += 1
        self.failed = self.failed or frame.failed

    def end(self) -> int:
        if not self.count and not self.as_json:
            print("no LISP frames")
        return EXIT_FAILED_FRAME if self.failed else 0


def _many(count: int, thing: str) -> str:
    return f"{count} {thing}{'' if count == 1 else 's'}"


class _LadderOutput(_Output):
    """Keeps every frame with its time, and draws them at the end."""

    def __init__(self, out: Path, source: str, names: dict[str, str], order: list[str]) -> None:
        super().__init__(as_json=False)
        self.out = out
        self.source = source
        self.names = names
        self.order = order
        self.frames: list[Seen] = []

    def frame(self, frame: DecodedFrame, datagram: UdpDatagram | None = None) -> None:
        if datagram is None:
            self.frames.append(Seen(frame, 0.0))
        else:
            ttl = hop_limit(datagram.ip_packet)
            self.frames.append(Seen(frame, datagram.timestamp, ttl, datagram.payload))
        self.count += 1
        self.failed = self.failed or frame.failed

    def end(self) -> int:
        ladder = build_ladder(self.frames, self.names, self.order)
        try:
            write_ladder(ladder, self.out, f"LISP messages of {self.source}")
        except OSError as error:
            return _fail(f"--ladder {self.out}: {error.strerror or error}")
        failed = sum(arrow.failed for arrow in ladder.arrows)
        print(
            f"ladder of {_many(self.count, 'LISP frame')} ({_many(len(ladder.arrows), 'arrow')}, "
            f"{failed} in red) written to {self.out}"
        )
        return EXIT_FAILED_FRAME if self.failed else 0


def _output(args: argparse.Namespace) -> _Output | str:
    """What prints the frames, or why --ladder/--topology cannot be used."""
    if args.ladder is None:
        if args.topology is not None:
            return "--topology names the columns of a --ladder: give --ladder too"
        return _Output(args.json)
    out = Path(args.ladder)
    if not out.parent.is_dir():
        return f"--ladder {out}: no directory {out.parent}"
    names: dict[str, str] = {}
    order: list[str] = []
    if args.topology is not None:
        try:
            topology = load_topology(args.topology)
        except TopologyError as error:
            return str(error)
        names = address_names(topology)
        order = [node.name for node in topology.nodes]
    return _LadderOutput(out, args.file or "--hex", names, order)


def run(args: argparse.Namespace) -> int:
    if args.hex is None and args.file is None:
        return _fail("give a capture file (.pcap or .pcapng) or --hex HEX")
    keys = [key.encode() for key in args.key]
    output = _output(args)
    if isinstance(output, str):
        return _fail(output)
    if args.hex is not None:
        if args.port not in (4341, 4342):
            return _fail(f"--port {args.port}: expected 4342 (control) or 4341 (data)")
        try:
            payload = parse_hex(args.hex)
        except ValueError:
            return _fail("--hex: not a hexadecimal string")
        if not payload:
            return _fail("--hex: nothing to decode (no hex digits)")
        output.frame(decode_payload(1, "-", f"-:{args.port}", payload, args.port, keys))
        return output.end()
    try:
        with open(args.file, "rb") as file:
            data = file.read()
        capture_format(data)
    except OSError as error:
        return _fail(f"{args.file}: {error.strerror or error}")
    except CaptureError as error:
        return _fail(f"{args.file}: {error}")
    return _decode_capture(args.file, data, keys, output)


def _decode_capture(path: str, data: bytes, keys: list[bytes], output: _Output) -> int:
    """Decode frame after frame; a cut (or garbled) file ends it with EXIT_CAPTURE_CUT."""
    frames_read = 0
    try:
        for raw in iter_frames(data):
            frames_read = raw.number
            datagram = udp_datagram_of(raw)
            if isinstance(datagram, UdpDatagram) and (port := lisp_port(datagram)) is not None:
                output.frame(decode_datagram(datagram, port, keys), datagram)
    except CaptureError as error:
        output.end()
        where = "" if error.offset is None else f" at byte {error.offset}"
        before = {0: "nothing before it", 1: "decoded the frame before it"}.get(
            frames_read, f"decoded the {frames_read} frames before it"
        )
        return _fail(
            f"{path}: the capture stops{where}: {error.reason}; {before}", EXIT_CAPTURE_CUT
        )
    return output.end()
