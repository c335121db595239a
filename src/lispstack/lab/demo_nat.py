"""The NAT traversal story (`lispstack demo --nat`, the nat lab).

natted (10.1.0.2, EIDs 192.168.10.0/24) sits behind the nat node, which
masquerades it as 10.0.3.3; public (10.0.2.2, 192.168.20.0/24) does not; rtr
(10.0.4.4) is the site's RTR at the Map-Server (10.0.3.254 / .2.254 / .4.254).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lispstack.lab.demo import Demo
from lispstack.lab.demo_seed import check_registered

NAT_PUBLIC = "10.0.3.3"
PRIVATE = "10.1.0.2"
RTR = "10.0.4.4"
MAP_SERVER = "10.0.3.254"
NATTED_EID, PUBLIC_EID = "192.168.10.1", "192.168.20.1"
DISCOVERY_WAIT_S = 15.0


def wait_until(probe: Callable[[], bool], seconds: float = DISCOVERY_WAIT_S) -> bool:
    """Poll `probe` every 0.2 s until it holds (True) or `seconds` have passed (False)."""
    deadline = time.monotonic() + seconds
    while not probe():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _rtr_entry(demo: Demo) -> dict[str, Any]:
    table = demo.ask("rtr", "nat")
    return table[0] if isinstance(table, list) and table else {}


def discovery(demo: Demo) -> None:
    step = demo.begin(
        "natted finds out it is behind a NAT",
        "natted sent an Info-Request, signed with its site key, to the Map-Server; the "
        "Info-Reply says where it came from (10.0.3.3, not natted's own 10.1.0.2) and "
        "names the site's RTR.",
    )

    def behind() -> bool:
        views = demo.ask("natted", "nat")
        return bool(views) and all(v["behind_nat"] and v["rtrs"] == [RTR] for v in views)

    found = wait_until(behind)
    demo.lab_command(step, "show", "natted", "nat")
    demo.check(step, f"natted is behind a NAT, RTR {RTR}", found)
    view = (demo.ask("natted", "nat") or [{}])[0]
    demo.check(
        step, f"the Map-Server saw natted as {NAT_PUBLIC}", view.get("global_rloc") == NAT_PUBLIC
    )
    demo.lab_command(step, "show", "public", "nat")
    public = (demo.ask("public", "nat") or [{}])[0]
    demo.check(
        step, "public is not behind a NAT (nothing changes for it)", not public.get("behind_nat")
    )


def registration(demo: Demo) -> None:
    step = demo.begin(
        "natted registers through the RTR",
        "natted's Map-Register, with the RTR as its RLOC and proxy-reply set, goes in an "
        "ECM from its port 4341 to the RTR, which notes the NAT's address and port, hands "
        "it to the Map-Server and relays the Map-Notify back through the NAT.",
    )
    wait_until(lambda: _rtr_entry(demo).get("eid_prefixes") == ["192.168.10.0/24"])
    check_registered(
        demo,
        step,
        [(0, "192.168.10.0/24", RTR, "natted"), (0, "192.168.20.0/24", "10.0.2.2", "public")],
    )
    demo.lab_command(step, "show", "rtr", "nat")
    entry = _rtr_entry(demo)
    demo.check(
        step,
        f"the RTR's NAT table: natted at {NAT_PUBLIC}, private RLOC {PRIVATE}",
        str(entry.get("translated", "")).startswith(f"{NAT_PUBLIC}:")
        and entry.get("private_rloc") == PRIVATE,
    )


def pings(demo: Demo) -> None:
    step = demo.begin(
        "pings both ways through the RTR",
        "natted encapsulates everything to the RTR (its map-cache: 0.0.0.0/0 -> RTR); the "
        "RTR resolves 192.168.20.1 like a Proxy-ITR and re-encapsulates to public. public "
        "gets the RTR from the Map-Server for 192.168.10.1; the RTR sends it to natted "
        "through the NAT binding natted's Map-Registers keep open.",
    )
    demo.check(
        step,
        f"ping {NATTED_EID} -> {PUBLIC_EID} succeeds",
        demo.ping(step, NATTED_EID, PUBLIC_EID, count=3, node="natted"),
    )
    demo.check(
        step,
        f"ping {PUBLIC_EID} -> {NATTED_EID} succeeds",
        demo.ping(step, PUBLIC_EID, NATTED_EID, count=3, node="public"),
    )
    demo.lab_command(step, "show", "rtr", "map-cache")
    cache = {e["eid"]: e for e in demo.ask("rtr", "map-cache")}
    rlocs = [r["address"] for r in cache.get("192.168.20.0/24", {}).get("rlocs", [])]
    demo.check(step, "the RTR's map-cache maps 192.168.20.0/24 to 10.0.2.2", rlocs == ["10.0.2.2"])
    demo.lab_command(step, "show", "rtr", "statistics")
    demo.check(
        step,
        "the RTR re-encapsulated both ways (rtr.re-encapsulated, rtr.to-nat)",
        demo.counter("rtr", "rtr.re-encapsulated") >= 3 and demo.counter("rtr", "rtr.to-nat") >= 3,
    )


STORY: tuple[Callable[[Demo], None], ...] = (discovery, registration, pings)


def capture_checks(events: list[Any], decoded: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """The Info exchange, the registration through the RTR, and data through the NAT,
    from the capture of the public side (`events`: timeline.Event)."""

    def seen(kind: str, src: str, dst: str) -> list[Any]:
        return [e for e in events if e.kind == kind and e.src == src and e.dst == dst]

    replies = [
        e.message
        for e in seen("info-reply", MAP_SERVER, NAT_PUBLIC)
        if e.message.get("rtr_rlocs") == [RTR] and e.message.get("global_etr_rloc") == NAT_PUBLIC
    ]
    data = [f for f in decoded if (f.get("message") or {}).get("type") == "data"]
    return [
        (
            f"Info-Request from the NAT's address {NAT_PUBLIC} to the Map-Server",
            bool(seen("info-request", NAT_PUBLIC, MAP_SERVER)),
        ),
        (f"Info-Reply naming the global RLOC {NAT_PUBLIC} and the RTR {RTR}", bool(replies)),
        (
            "natted's Map-Register in an ECM to the RTR, and from the RTR to the Map-Server",
            bool(seen("ecm/map-register", NAT_PUBLIC, RTR))
            and bool([e for e in events if e.kind == "map-register" and e.src == RTR]),
        ),
        (
            "the Map-Notify to the RTR",
            bool([e for e in events if e.kind == "map-notify" and e.dst == RTR]),
        ),
        (
            "encapsulated packets from the RTR through the NAT, and from the NAT to the RTR",
            any(f["src"].startswith(f"{RTR}:") and f["dst"].startswith(NAT_PUBLIC) for f in data)
            and any(
                f["src"].startswith(f"{NAT_PUBLIC}:") and f["dst"].startswith(RTR) for f in data
            ),
        ),
    ]
