"""The mobility story (`lispstack demo --mobility`, the mobility lab): a host of the
dynamic prefixes 192.168.1.0/24 and fd00:1::/64 moves from xtra to xtrb while it
talks to lisp2.

xtra learns the host from its first packet and registers 192.168.1.10/32; the host
moves, xtrb learns and registers it; the Map-Server replaces xtra's registration and
tells xtra (Map-Notify), which SMRs lisp2; lisp2 asks the mapping system again and
its traffic follows the host to xtrb (core/dynamic_eids.py, core/moved_eids.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from lispstack.lab.demo import Demo, Step
from lispstack.lab.demo_seed import check_registered

if TYPE_CHECKING:
    from lispstack.lab.timeline import Event

HOST = "192.168.1.10"
HOST_PREFIX = f"{HOST}/32"
REMOTE = "192.168.2.1"
HOST6, REMOTE6 = "fd00:1::10", "fd00:2::1"
HOST6_PREFIX = f"{HOST6}/128"
XTRA, XTRB = "10.0.1.1", "10.0.3.3"
STREAM = 60
"""Pings in the stream across the move (0.1 s apart)."""


def cached_rlocs(demo: Demo, step: Step, host: str = HOST) -> list[str]:
    """The RLOCs of lisp2's map-cache entry for the host's address `host`."""
    demo.lab_command(step, "show", "lisp2", "map-cache", host)
    entries = demo.ask("lisp2", "map-cache", host) or [{}]
    return [r["address"] for r in entries[0].get("rlocs", [])]


def attached(demo: Demo) -> None:
    step = demo.begin(
        "the host is plugged into xtra; nobody knows it yet",
        "xtra and xtrb both serve the dynamic prefixes 192.168.1.0/24 and fd00:1::/64 "
        "(dynamic = true): they register no prefix, only the hosts they see sending. The "
        "host's link to xtrb is down (it keeps its IPv6 address there, as a laptop would).",
    )
    unplug = (
        "sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1 && ip link set eth-b down"
        " && ip -6 route replace default via fd00:1::1 dev eth-a"
    )
    demo.lab_command(step, "exec", "host", "--", "sh", "-c", unplug)
    demo.lab_command(step, "show", "xtra", "database")
    database = demo.ask("xtra", "database")
    demo.check(
        step,
        "xtra's database: 192.168.1.0/24 and fd00:1::/64, dynamic, no host yet",
        sorted((e["eid"], e.get("dynamic")) for e in database)
        == [("192.168.1.0/24", True), ("fd00:1::/64", True)],
    )
    demo.lab_command(step, "show", "mapserver", "registrations")
    registered = {r["eid"] for r in demo.ask("mapserver", "registrations")}
    demo.check(
        step,
        "the Map-Server has no registration in 192.168.1.0/24 or fd00:1::/64",
        not any(eid.startswith(("192.168.1.", "fd00:1:")) for eid in registered),
    )


def learned(demo: Demo) -> None:
    step = demo.begin(
        "the host sends: xtra learns it and registers 192.168.1.10/32",
        "The host's first packet to lisp2's 192.168.2.1 enters xtra's TUN (its source "
        "is in the dynamic prefix); xtra registers the host prefix with its RLOC at once "
        "and resolves 192.168.2.1. lisp2's replies resolve 192.168.1.10: the /32.",
    )
    ok = demo.ping(step, HOST, REMOTE, 3, node="host")
    demo.check(step, "ping 192.168.1.10 -> 192.168.2.1 succeeds", ok)
    check_registered(demo, step, [(0, HOST_PREFIX, XTRA, "mobile")])
    demo.check(step, "lisp2 caches 192.168.1.10/32 -> 10.0.1.1", cached_rlocs(demo, step) == [XTRA])
    ok = demo.ping(step, HOST6, REMOTE6, 3, node="host")
    demo.check(step, "ping fd00:1::10 -> fd00:2::1 succeeds", ok)
    check_registered(demo, step, [(0, HOST6_PREFIX, XTRA, "mobile")])


def moved(demo: Demo) -> None:
    step = demo.begin(
        "the host moves to xtrb; SMR; lisp2's traffic follows",
        f"A stream of {STREAM} pings, 0.1 s apart, runs while the host is unplugged from "
        "xtra and plugged into xtrb. xtrb learns it and registers 192.168.1.10/32; the "
        "Map-Server replaces xtra's registration and sends xtra a Map-Notify with xtrb's "
        "record; xtra forgets the host and SMRs lisp2 (it sent traffic there); lisp2 "
        "sends an SMR-invoked Map-Request through the Map-Resolver and re-caches the host.",
    )
    before = demo.counter("xtrb", "decap.packets")
    stream = demo.ping_stream(step, "host", HOST, REMOTE, STREAM)
    time.sleep(1.0)
    move = (
        "ip link set eth-a down && ip link set eth-b up"
        " && ip route replace default via 192.168.1.1 dev eth-b"
        " && ip -6 route replace default via fd00:1::1 dev eth-b"
    )
    demo.lab_command(step, "exec", "host", "--", "sh", "-c", move)
    answered = stream.finish()
    lost = STREAM - len(answered)
    demo.check(
        step,
        f"the stream followed the host: {lost} of {STREAM} pings lost, the last 30 answered",
        set(range(STREAM - 29, STREAM + 1)) <= answered,
    )
    check_registered(demo, step, [(0, HOST_PREFIX, XTRB, "mobile")])
    demo.check(
        step,
        "the Map-Server replaced xtra's registration (registrations.moved = 1)",
        demo.counter("mapserver", "registrations.moved") == 1,
    )
    demo.lab_command(step, "show", "xtra", "statistics")
    demo.check(
        step,
        "xtra was told (in.map-notify.moved = 1), acknowledged, and forgot the host",
        demo.counter("xtra", "in.map-notify.moved") == 1
        and demo.counter("xtra", "out.map-notify-ack") == 1
        and demo.counter("xtra", "dynamic-eids.moved") == 1,
    )
    demo.check(step, "xtra sent an SMR", demo.counter("xtra", "out.smr") >= 1)
    demo.lab_command(step, "show", "lisp2", "statistics")
    demo.check(
        step,
        "lisp2 took the SMR and asked again (out.map-request.smr-invoked >= 1)",
        demo.counter("lisp2", "in.smr") >= 1
        and demo.counter("lisp2", "out.map-request.smr-invoked") >= 1,
    )
    demo.check(step, "lisp2 caches 192.168.1.10/32 -> 10.0.3.3", cached_rlocs(demo, step) == [XTRB])
    demo.check(
        step,
        "xtrb decapsulates lisp2's replies to the host",
        demo.counter("xtrb", "decap.packets") - before >= 30,
    )


def moved6(demo: Demo) -> None:
    step = demo.begin(
        "its IPv6 address moved too: xtrb registers fd00:1::10/128",
        "The host's first IPv6 packets through xtrb make xtrb register the /128; the "
        "Map-Server replaces xtra's registration and tells xtra, and lisp2's replies "
        "that still reach xtra get lisp2 an SMR: lisp2 re-caches the host at xtrb. "
        "xtra's ICMPv6 errors for the host that left come from its own fd00:1::1: "
        "an address of the node is never learned as a host.",
    )
    ok = demo.ping(step, HOST6, REMOTE6, 5, node="host")
    demo.check(step, "ping fd00:1::10 -> fd00:2::1 succeeds after the move", ok)
    check_registered(demo, step, [(0, HOST6_PREFIX, XTRB, "mobile")])
    demo.check(
        step,
        "the Map-Server replaced xtra's registration again (registrations.moved = 2)",
        demo.counter("mapserver", "registrations.moved") == 2,
    )
    demo.check(
        step,
        "lisp2 caches fd00:1::10/128 -> 10.0.3.3",
        cached_rlocs(demo, step, HOST6) == [XTRB],
    )
    registered = {r["eid"] for r in demo.ask("mapserver", "registrations")}
    demo.check(
        step,
        "no xTR registered its own gateway address (192.168.1.1, fd00:1::1) as a host",
        not registered & {"192.168.1.1/32", "fd00:1::1/128"},
    )


def capture_checks(timeline: list[Event]) -> list[tuple[str, bool]]:
    """The move on the wire: registration, move notice and its ack, SMR, re-resolution."""

    def find(kind: str, src: str, dst: str) -> list[Event]:
        return [e for e in timeline if e.kind == kind and e.src == src and e.dst == dst]

    registered = [e for e in find("map-register", XTRB, "10.0.3.254") if e.eid == HOST_PREFIX]
    notices = [
        e
        for e in find("map-notify", "10.0.1.254", XTRA)
        if e.eid == HOST_PREFIX
        and [r["address"] for r in e.message["records"][0]["rlocs"]] == [XTRB]
    ]
    acks = {e.nonce for e in find("map-notify-ack", XTRA, "10.0.1.254")}
    smrs = [
        e
        for e in find("map-request", XTRA, "10.0.2.2")
        if e.message.get("smr") and e.message.get("source_eid") == HOST
    ]
    invoked = [
        e
        for e in find("ecm/map-request", "10.0.2.2", "10.0.2.254")
        if e.message.get("smr_invoked") and e.eid == HOST_PREFIX
    ]
    return [
        ("xtrb registered 192.168.1.10/32 (Map-Register 10.0.3.3 -> 10.0.3.254)", bool(registered)),
        (
            "the Map-Server told xtra: a Map-Notify for 192.168.1.10/32 with RLOC 10.0.3.3, "
            "acknowledged (Map-Notify-Ack, same nonce)",
            any(e.nonce in acks for e in notices),
        ),
        ("xtra SMRed lisp2 (Map-Request with the S bit, source EID 192.168.1.10)", bool(smrs)),
        (
            "lisp2's SMR-invoked Map-Request for 192.168.1.10/32 went to the Map-Resolver",
            bool(invoked),
        ),
    ]


STORY: tuple[Callable[[Demo], None], ...] = (attached, learned, moved, moved6)
