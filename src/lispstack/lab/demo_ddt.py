"""The LISP-DDT story (`lispstack demo --ddt`, the ddt lab): one mapping system across two
Map-Servers, resolved by a DDT Map-Resolver walking referrals (RFC 8111).

    root 10.1.0.1   192.168.0.0/16  -> ddt-a 10.2.0.1  192.168.0.0/22 -> ms1 10.4.0.1
                                    -> ddt-b 10.3.0.1  192.168.4.0/22 -> ms2 10.5.0.1, ms1
    mr 10.x.0.254   the DDT Map-Resolver (and the router between every RLOC subnet)
    site1 192.168.1.0/24, site2 192.168.2.0/24 on ms1; site3 192.168.4.0/24 on ms2 and ms1

The Map-Resolver's counters (ddt.request, ddt.referral, ...) tell how far each
resolution walked; `lig` through the Map-Resolver and `rig` straight at the
hierarchy show the answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lispstack.lab.demo import Demo, Step
from lispstack.lab.demo_seed import check_registered
from lispstack.lab.runner import lispstack_argv

if TYPE_CHECKING:
    from lispstack.lab.timeline import Event

ROOT, DDT_A, DDT_B, MS1, MS2 = "10.1.0.1", "10.2.0.1", "10.3.0.1", "10.4.0.1", "10.5.0.1"
RESOLVER_OF = {"site1": "10.0.1.254", "site2": "10.0.2.254", "site3": "10.0.3.254"}
"""The Map-Resolver's address on each site's link."""
HOLE_EID, HOLE = "192.168.8.1", "192.168.8.0/21"
"""An EID in the root's authority that no delegation holds, and the hole the root answers."""
WALK = ("ddt.request", "ddt.referral", "ddt.cache-hit", "ddt.ms-ack", "ddt.timeout")


def _walk(demo: Demo) -> dict[str, int]:
    return {name: demo.counter("mr", name) for name in WALK}


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in WALK}


def _lig(demo: Demo, step: Step, site: str, eid: str) -> dict[str, Any]:
    """`lig EID` from `site` through the DDT Map-Resolver; its JSON answer ({} if none)."""
    argv = ["lig", eid, "--map-resolver", RESOLVER_OF[site], "--json"]
    result = demo.lab_command(step, "exec", site, "--", *lispstack_argv(), *argv)
    try:
        answer: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        return {}
    return answer


def _record(answer: dict[str, Any]) -> dict[str, Any]:
    records = answer.get("message", {}).get("records", [])
    return records[0] if records else {}


def _ping(demo: Demo, step: Step, site: str, source: str, destination: str) -> bool:
    """Three replies within 20 s (the first packets may wait for the resolution)."""
    argv = ["ping", "-n", "-c", "3", "-w", "20", "-I", source, destination]
    return demo.lab_command(step, "exec", site, "--", *argv).returncode == 0


def delegations(demo: Demo) -> None:
    step = demo.begin(
        "the delegation tree and the registrations",
        "The root is authoritative for 192.168.0.0/16 and delegates 192.168.0.0/22 to ddt-a "
        "and 192.168.4.0/22 to ddt-b (NODE-REFERRAL); each child delegates its sites to "
        "Map-Servers (MS-REFERRAL), ddt-b to two of them. site3 registers with both.",
    )
    for node in ("root", "ddt-b"):
        demo.lab_command(step, "show", node, "delegations")
    root = {(r["eid"], r["action"]): r for r in demo.ask("root", "delegations")}
    for prefix, child in (("192.168.0.0/22", DDT_A), ("192.168.4.0/22", DDT_B)):
        referrals = [
            r["address"] for r in root.get((prefix, "node-referral"), {}).get("referrals", [])
        ]
        demo.check(step, f"the root delegates {prefix} to {child}", referrals == [child])
    site3 = [r for r in demo.ask("ddt-b", "delegations") if r["eid"] == "192.168.4.0/24"]
    servers = [r["address"] for r in site3[0]["referrals"]] if site3 else []
    two = f"ddt-b delegates 192.168.4.0/24 to two Map-Servers ({MS2}, {MS1})"
    demo.check(step, two, servers == [MS2, MS1])
    check_registered(
        demo,
        step,
        [
            (0, "192.168.1.0/24", "10.0.1.1", "site-1"),
            (0, "192.168.2.0/24", "10.0.2.2", "site-2"),
            (0, "192.168.4.0/24", "10.0.3.3", "site-3"),
        ],
        server="ms1",
    )
    check_registered(demo, step, [(0, "192.168.4.0/24", "10.0.3.3", "site-3")], server="ms2")


def rig_walk(demo: Demo) -> None:
    step = demo.begin(
        "rig: the referral chain for 192.168.2.1, hop by hop",
        "From the Map-Resolver's namespace, rig sends a DDT Map-Request (an ECM with the D "
        "bit) to the root and follows each Map-Referral: the root refers to ddt-a, ddt-a to "
        "ms1, and ms1 acknowledges (MS-ACK: site2 is registered; it forwards the request).",
    )
    argv = [*lispstack_argv(), "rig", "192.168.2.1", "--ddt-node", ROOT]
    demo.lab_command(step, "exec", "mr", "--", *argv)
    result = demo.lab_command(step, "exec", "mr", "--", *argv, "--json")
    try:
        hops = json.loads(result.stdout)["hops"]
    except (json.JSONDecodeError, KeyError):
        hops = []
    walked = [(h["node"], h["action"], h.get("eid_prefix")) for h in hops]
    demo.check(
        step,
        "root -> ddt-a -> ms1: node-referral 192.168.0.0/22, ms-referral 192.168.2.0/24, "
        "ms-ack 192.168.2.0/24",
        walked
        == [
            (ROOT, "node-referral", "192.168.0.0/22"),
            (DDT_A, "ms-referral", "192.168.2.0/24"),
            (MS1, "ms-ack", "192.168.2.0/24"),
        ],
    )


def cold_resolution(demo: Demo) -> None:
    step = demo.begin(
        "site1 resolves 192.168.2.1 through the DDT Map-Resolver: the full walk",
        "lig from site1 asks mr, whose referral cache is empty: mr sends the ITR's request "
        "(D bit set, same nonce) to the root, then ddt-a, then ms1, which forwards it to "
        "site2's ETR; site2 answers site1 directly. Then site1 and site2 ping each other.",
    )
    before = _walk(demo)
    answer = _lig(demo, step, "site1", "192.168.2.1")
    walked = _delta(before, _walk(demo))
    record = _record(answer)
    demo.check(
        step,
        "site2 (10.0.2.2) answered for 192.168.2.0/24 with RLOC 10.0.2.2",
        answer.get("replier") == "10.0.2.2"
        and record.get("eid") == "192.168.2.0/24"
        and [loc["address"] for loc in record.get("rlocs", [])] == ["10.0.2.2"],
    )
    demo.check(
        step,
        "mr asked 3 nodes, followed 2 referrals, got 1 MS-ACK",
        (walked["ddt.request"], walked["ddt.referral"], walked["ddt.ms-ack"]) == (3, 2, 1),
    )
    pinged = _ping(demo, step, "site1", "192.168.1.1", "192.168.2.1")
    demo.check(step, "site1 <-> site2: ping answered", pinged)


def warm_resolution(demo: Demo) -> None:
    step = demo.begin(
        "site3 resolves 192.168.2.1: answered from the referral cache",
        "mr has cached the MS-REFERRAL for 192.168.2.0/24 (TTL 24 h): the request goes "
        "straight to ms1, no root, no ddt-a.",
    )
    before = _walk(demo)
    answer = _lig(demo, step, "site3", "192.168.2.1")
    walked = _delta(before, _walk(demo))
    demo.check(step, "site2 answered", _record(answer).get("eid") == "192.168.2.0/24")
    demo.check(
        step,
        "mr asked 1 node (ms1), from a cache hit, following no referral",
        (walked["ddt.request"], walked["ddt.cache-hit"], walked["ddt.referral"]) == (1, 1, 0),
    )
    demo.lab_command(step, "show", "mr", "referral-cache")
    cached = {(r["eid"], r["action"]) for r in demo.ask("mr", "referral-cache")}
    demo.check(
        step,
        "the referral cache holds 192.168.0.0/22 node-referral and 192.168.2.0/24 ms-referral",
        {("192.168.0.0/22", "node-referral"), ("192.168.2.0/24", "ms-referral")} <= cached,
    )


def delegation_hole(demo: Demo) -> None:
    step = demo.begin(
        f"a delegation hole: {HOLE_EID}",
        f"{HOLE_EID} is inside the root's 192.168.0.0/16 but in no delegation: the root "
        f"answers DELEGATION-HOLE for the least-specific prefix around it that overlaps no "
        f"delegation, {HOLE} (TTL 15 min); mr caches it and sends site1 a negative "
        "Map-Reply. Asked again, mr answers from its cache at once.",
    )
    rig = [*lispstack_argv(), "rig", HOLE_EID, "--ddt-node", ROOT]
    hops = demo.lab_command(step, "exec", "mr", "--", *rig).stdout
    demo.check(
        step, f"rig: the root answers delegation-hole {HOLE}", f"delegation-hole {HOLE}" in hops
    )
    record = _record(_lig(demo, step, "site1", HOLE_EID))
    demo.check(
        step,
        f"site1 got a negative Map-Reply for {HOLE}, TTL 15, no RLOC",
        (record.get("eid"), record.get("ttl"), record.get("rlocs")) == (HOLE, 15, []),
    )
    negative = demo.counter("mr", "ddt.cache-negative")
    record = _record(_lig(demo, step, "site1", "192.168.9.9"))
    demo.check(
        step,
        f"192.168.9.9 (in {HOLE}) answered from mr's cache",
        record.get("eid") == HOLE and demo.counter("mr", "ddt.cache-negative") == negative + 1,
    )


def _running(demo: Demo, node: str) -> bool:
    return any(n["node"] == node and n.get("running") for n in demo.lab.status())


def map_server_failure(demo: Demo) -> None:
    step = demo.begin(
        "ms2 dies; site3 is still reached through ms1",
        "ddt-b refers 192.168.4.0/24 to ms2 (priority 1) and ms1 (priority 2). With ms2 "
        "stopped, mr's request to ms2 times out (2 s) and goes to ms1, which has site3's "
        "registration too: site2 reaches site3, which it had never resolved.",
    )
    state = demo.lab.state() or {"nodes": {}}
    pid = state["nodes"].get("ms2", {}).get("pid")
    demo.command(step, ["kill", str(pid)])
    deadline = time.monotonic() + 10
    while _running(demo, "ms2") and time.monotonic() < deadline:
        time.sleep(0.1)
    demo.lab_command(step, "status")
    demo.check(step, "ms2 is stopped", not _running(demo, "ms2"))
    before = _walk(demo)
    demo.check(
        step,
        "site2 -> site3: ping answered",
        _ping(demo, step, "site2", "192.168.2.1", "192.168.4.1"),
    )
    walked = _delta(before, _walk(demo))
    demo.lab_command(step, "show", "mr", "statistics")
    demo.check(
        step,
        "mr timed out on ms2 and got the MS-ACK from ms1",
        walked["ddt.timeout"] >= 1 and walked["ddt.ms-ack"] >= 1,
    )


def capture_checks(timeline: list[Event]) -> list[tuple[str, bool]]:
    """Each action of the story's Map-Referrals on the wire, from the node that sends it."""

    def referrals(source: str, action: str, eid: str) -> bool:
        return any(
            e.kind == "map-referral"
            and e.src == source
            and e.message["records"][0]["action"] == action
            and e.eid == eid
            for e in timeline
        )

    ddt_requests = [e for e in timeline if e.kind == "ecm/map-request" and e.dst == ROOT]
    return [
        (
            "DDT Map-Requests reach the root",
            bool(ddt_requests),
        ),
        ("root: node-referral 192.168.0.0/22", referrals(ROOT, "node-referral", "192.168.0.0/22")),
        ("ddt-a: ms-referral 192.168.2.0/24", referrals(DDT_A, "ms-referral", "192.168.2.0/24")),
        ("ms1: ms-ack 192.168.2.0/24", referrals(MS1, "ms-ack", "192.168.2.0/24")),
        ("ddt-b: ms-referral 192.168.4.0/24", referrals(DDT_B, "ms-referral", "192.168.4.0/24")),
        ("ms1: ms-ack 192.168.4.0/24", referrals(MS1, "ms-ack", "192.168.4.0/24")),
        (f"root: delegation-hole {HOLE}", referrals(ROOT, "delegation-hole", HOLE)),
    ]


STORY: tuple[Callable[[Demo], None], ...] = (
    delegations,
    rig_walk,
    cold_resolution,
    warm_resolution,
    delegation_hole,
    map_server_failure,
)
