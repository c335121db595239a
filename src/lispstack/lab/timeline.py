"""The demo's last step: the control plane decoded from the capture, and Wireshark's verdict.

The messages come from `lispstack decode FILE --json` (one object per LISP
frame); the capture itself adds each frame's time and interface name. The
checks read those JSON objects, never the text.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lispstack.capture import read_capture
from lispstack.lab import (
    demo_ddt,
    demo_mobility,
    demo_multihoming,
    demo_nat,
    demo_pictures,
    demo_tenants,
)
from lispstack.lab.demo import Demo
from lispstack.lab.runner import lispstack_argv

WARNING_SEVERITY = 0x00600000


@dataclass(frozen=True)
class Event:
    """One control message on one link."""

    time: float
    interface: str
    src: str
    dst: str
    kind: str  # "map-register", "ecm/map-request", ...
    eid: str
    nonce: str
    message: dict[str, Any]  # the innermost message

    def line(self, start: float) -> str:
        return (
            f"{self.time - start:7.3f}s {self.interface:9} {self.src:>16} -> {self.dst:<16} "
            f"{self.kind:16} {self.eid:18} {self.nonce}"
        )


def events(capture: Path, decoded: list[dict[str, Any]]) -> list[Event]:
    """The control messages of `decoded` (decode --json objects), in time order."""
    frames = {d.frame: d for d in read_capture(capture).datagrams}
    out = []
    for frame in decoded:
        message = frame.get("message")
        datagram = frames.get(frame["frame"])
        if not message or datagram is None or message["type"] == "data":
            continue
        kind = message["type"]
        if kind == "ecm":
            message = message["inner"]["message"]
            kind = f"ecm/{message['type']}"
        records = message.get("records", [])
        out.append(
            Event(
                time=datagram.timestamp,
                interface=datagram.interface or "",
                src=frame["src"].rsplit(":", 1)[0],
                dst=frame["dst"].rsplit(":", 1)[0],
                kind=kind,
                eid=records[0]["eid"] if records else "",
                nonce=message.get("nonce", ""),
                message=message,
            )
        )
    return sorted(out, key=lambda e: e.time)


def wire_step(demo: Demo) -> None:
    step = demo.begin(
        "the control plane on the wire",
        "The RLOC-side links were recorded; every control message decoded from the capture "
        "(time, link, who sent what to whom, type, EID, nonce), checked against the story, "
        "and Wireshark's verdict on every LISP frame, control and data.",
    )
    merged = demo.lab.stop_captures()
    demo.check(step, f"capture written to {merged}", merged is not None and merged.exists())
    if merged is None or not merged.exists():
        return
    keys = [
        key.key
        for node in demo.topology.nodes
        if node.config is not None
        for site in node.config.sites
        for key in site.keys
    ]
    argv = [*lispstack_argv(), "decode", str(merged), "--json"]
    for key in keys:
        argv += ["--key", key]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    decoded = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    timeline = events(merged, decoded)
    start = timeline[0].time if timeline else 0.0
    step.commands.append(
        " ".join(["lispstack", *argv[len(lispstack_argv()) :]]) + "   (shown as a timeline)"
    )
    step.output.append("\n".join([*(e.line(start) for e in timeline), result.stderr]).rstrip())
    demo.check(
        step, "decode: no malformed frame, every authentication valid", result.returncode == 0
    )
    if demo.story == "pxtr":
        story_checks = pxtr_checks(merged)
    elif demo.story == "tenants":
        story_checks = demo_tenants.capture_checks(decoded)
    elif demo.story == "ddt":
        story_checks = demo_ddt.capture_checks(timeline)
    elif demo.story == "nat":
        story_checks = demo_nat.capture_checks(timeline, decoded)
    elif demo.story == "multihoming":
        story_checks = demo_multihoming.capture_checks(timeline)
    elif demo.story == "mobility":
        story_checks = demo_mobility.capture_checks(timeline)
    else:
        story_checks = seed_checks(timeline)
    for text, ok in story_checks:
        demo.check(step, text, ok)
    verdict = tshark_problems(merged)
    step.commands.append(f"tshark -r {merged} -Y '(lisp or lisp-data) and (malformed or warning)'")
    step.output.append("\n".join(verdict) or "no malformed frame, no warning")
    demo.check(step, "Wireshark decodes every control and data frame cleanly", not verdict)
    demo_pictures.draw(demo, step, merged, keys)


def seed_checks(timeline: list[Event]) -> list[tuple[str, bool]]:
    def find(kind: str, src: str, dst: str, eid: str, nonce: str | None = None) -> list[Event]:
        return [
            e
            for e in timeline
            if e.kind == kind
            and e.src == src
            and e.dst == dst
            and e.eid == eid
            and (nonce is None or e.nonce == nonce)
        ]

    checks = []
    for etr, server, eid in (
        ("10.0.1.1", "10.0.1.254", "192.168.1.0/24"),
        ("10.0.2.2", "10.0.2.254", "192.168.2.0/24"),
    ):
        registers = find("map-register", etr, server, eid)
        notified = any(find("map-notify", server, etr, eid, r.nonce) for r in registers)
        checks.append((f"{etr} registered {eid}; the Map-Server notified it", notified))
    to_internet = find("ecm/map-request", "10.0.1.1", "10.0.1.254", "4.2.2.2/32")
    negative = [
        e
        for r in to_internet
        for e in find("map-reply", "10.0.1.254", "10.0.1.1", "0.0.0.0/1", r.nonce)
        if e.message["records"][0]["action"] == "natively-forward"
    ]
    checks.append(("one Map-Request for 4.2.2.2 in the whole capture", len(to_internet) == 1))
    checks.append(("answered by 0.0.0.0/1 natively-forward from the Map-Resolver", bool(negative)))
    requests = find("ecm/map-request", "10.0.1.1", "10.0.1.254", "192.168.2.1/32")
    first = requests[0].nonce if requests else "none"
    checks.append(
        (
            f"lisp1's Map-Request {first} forwarded by the Map-Server to lisp2 "
            "(10.0.2.254 -> 10.0.2.2, same nonce)",
            bool(find("ecm/map-request", "10.0.2.254", "10.0.2.2", "192.168.2.1/32", first)),
        )
    )
    checks.append(
        (
            "lisp2 replied straight to lisp1 (10.0.2.2 -> 10.0.1.1, same nonce)",
            bool(find("map-reply", "10.0.2.2", "10.0.1.1", "192.168.2.0/24", first)),
        )
    )
    proxy = [
        e
        for r in requests[1:]
        for e in find("map-reply", "10.0.1.254", "10.0.1.1", "192.168.2.0/24", r.nonce)
    ]
    checks.append(
        ("after proxy-reply, the Map-Server answered lisp1 for 192.168.2.0/24", bool(proxy))
    )
    return checks


def pxtr_checks(capture: Path) -> list[tuple[str, bool]]:
    """LISP data frames to or from pxtr; plain ICMP with 4.2.2.2 outside any LISP header."""

    def found(display_filter: str) -> bool:
        result = subprocess.run(
            ["tshark", "-r", str(capture), "-Y", display_filter],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return bool(result.stdout.strip())

    return [
        (
            "encapsulated packets between the sites and pxtr",
            found("lisp-data and ip.addr == 10.0.3.3"),
        ),
        (
            "plain packets between pxtr and 4.2.2.2",
            found("icmp and not lisp-data and ip.addr == 4.2.2.2"),
        ),
    ]


def tshark_problems(capture: Path) -> list[str]:
    display = (
        f"(lisp or lisp-data) and (_ws.malformed or _ws.expert.severity >= {WARNING_SEVERITY})"
    )
    result = subprocess.run(
        [
            "tshark",
            "-r",
            str(capture),
            # IPv4 header checksums are always complete on the wire (the raw-socket
            # ITR leaves them to the kernel); UDP ones may be offloaded, so unchecked.
            "-o",
            "ip.check_checksum:TRUE",
            "-Y",
            display,
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        return [f"tshark failed: {result.stderr.strip()}"]
    return [f"frame {line}" for line in result.stdout.splitlines() if line.strip()]
