"""The multihoming story (`lispstack demo --multihoming`, the multihomed lab): lisp2's
first uplink is cut; lisp2 notices its own dead RLOC, registers it with the R bit clear
and sends lisp1 an SMR; lisp1 asks again and traffic fails over to the second RLOC, and
comes back when the uplink does. Both xTRs probe every second, two misses (the lab's
configs), but the failover needs no probe miss.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lispstack.lab.demo import Demo, Step
from lispstack.lab.demo_seed import check_registered

if TYPE_CHECKING:
    from lispstack.lab.timeline import Event

PRIMARY, BACKUP = "10.0.2.2", "10.0.3.2"
REMOTE = "192.168.2.1"
STREAM = 100
"""Pings in the stream across the cut (0.1 s apart)."""
SETTLE_S = 12.0


def rloc_states(demo: Demo) -> dict[str, str]:
    """lisp1's probe state of each RLOC of lisp2's mapping."""
    entries: Any = demo.ask("lisp1", "map-cache", REMOTE)
    if not entries:
        return {}
    return {r["address"]: r.get("probe", {}).get("state", "?") for r in entries[0]["rlocs"]}


def wait_for(demo: Demo, wanted: dict[str, str]) -> bool:
    """Poll lisp1's map-cache (the ping stream keeps the mapping in use) until `wanted`."""
    deadline = time.monotonic() + SETTLE_S
    while rloc_states(demo) != wanted:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def forwarding_rloc(demo: Demo, step: Step) -> str | None:
    demo.lab_command(step, "show", "lisp1", "forwarding", REMOTE)
    rloc: str | None = demo.ask("lisp1", "forwarding", REMOTE).get("rloc")
    return None if rloc is None else rloc.split(":")[0]


def registrations(demo: Demo) -> None:
    step = demo.begin(
        "both sites are registered; lisp2 with two RLOCs",
        "lisp2's site has two uplinks: RLOC 10.0.2.2 through r1 (priority 1) and 10.0.3.2 "
        "through r2 (priority 2, used only if no priority-1 RLOC is reachable).",
    )
    check_registered(
        demo,
        step,
        [(0, "192.168.1.0/24", "10.0.1.1", "site-a"), (0, "192.168.2.0/24", PRIMARY, "site-b")],
    )
    entry = {r["eid"]: r for r in demo.ask("mapserver", "registrations")}.get("192.168.2.0/24")
    rlocs = [(r["address"], r["priority"]) for r in (entry or {}).get("rlocs", [])]
    demo.check(
        step,
        "192.168.2.0/24 maps to 10.0.2.2 (priority 1) and 10.0.3.2 (priority 2)",
        rlocs == [(PRIMARY, 1), (BACKUP, 2)],
    )


def flowing(demo: Demo) -> None:
    step = demo.begin(
        "traffic flows through the primary uplink; both RLOCs answer probes",
        "lisp1 resolves 192.168.2.1 and encapsulates to the priority-1 RLOC; it probes "
        "both RLOCs of the mapping in use every second (Map-Request with the P bit, sent "
        "to the RLOC itself; lisp2 answers with a Map-Reply with the P bit).",
    )
    demo.check(
        step, "ping 192.168.1.1 -> 192.168.2.1 succeeds", demo.ping(step, "192.168.1.1", REMOTE, 3)
    )
    up = {PRIMARY: "up", BACKUP: "up"}
    demo.check(step, "lisp1's probes find both RLOCs up", wait_for(demo, up))
    demo.lab_command(step, "show", "lisp1", "map-cache", REMOTE)
    demo.check(step, "lisp1 encapsulates to 10.0.2.2", forwarding_rloc(demo, step) == PRIMARY)


def registered_reachable(demo: Demo) -> dict[str, bool]:
    """The Map-Server's registration of lisp2's prefix: each RLOC and its R bit."""
    entry = {r["eid"]: r for r in demo.ask("mapserver", "registrations")}.get("192.168.2.0/24")
    return {r["address"]: r["reachable"] for r in (entry or {}).get("rlocs", [])}


def own_rlocs_told(demo: Demo, step: Step, smrs_before: int, reachable: bool) -> None:
    """lisp2 registered 10.0.2.2 with the R bit `reachable` and sent lisp1 an SMR."""
    demo.lab_command(step, "show", "lisp2", "database")
    bit = "set" if reachable else "clear"
    demo.check(
        step,
        f"lisp2 registered 10.0.2.2 with the R bit {bit} (the Map-Server's registration)",
        registered_reachable(demo) == {PRIMARY: reachable, BACKUP: True},
    )
    demo.check(
        step,
        "lisp2 sent lisp1 an SMR; lisp1 asked the mapping system again",
        demo.counter("lisp2", "out.smr") > smrs_before and demo.counter("lisp1", "in.smr") > 0,
    )


def failover(demo: Demo) -> None:
    step = demo.begin(
        "the primary uplink is cut: lisp2 notices, traffic fails over to 10.0.3.2",
        f"A stream of {STREAM} pings, 0.1 s apart, runs while lisp2's eth0 goes down "
        "(ip link set eth0 down). lisp2 watches its own RLOCs (netlink): 10.0.2.2 is no "
        "longer usable, so it registers it again with the R bit clear, sends from 10.0.3.2 "
        "and sends an SMR to lisp1, which asks again (SMR-invoked Map-Request) and moves "
        "the traffic to the priority-2 RLOC, without waiting for its probes to miss.",
    )
    smrs = demo.counter("lisp2", "out.smr")
    stream = demo.ping_stream(step, "lisp1", "192.168.1.1", REMOTE, STREAM)
    time.sleep(1.0)
    demo.lab_command(step, "exec", "lisp2", "--", "ip", "link", "set", "eth0", "down")
    demo.check(
        step,
        "lisp1 marks 10.0.2.2 down, 10.0.3.2 stays up",
        wait_for(demo, {PRIMARY: "down", BACKUP: "up"}),
    )
    own_rlocs_told(demo, step, smrs, reachable=False)
    answered = stream.finish()
    lost = STREAM - len(answered)
    demo.check(
        step,
        f"the stream came back: {lost} of {STREAM} pings lost, the last 20 answered",
        set(range(STREAM - 19, STREAM + 1)) <= answered,
    )
    demo.lab_command(step, "show", "lisp1", "map-cache", REMOTE)
    demo.check(step, "lisp1 now encapsulates to 10.0.3.2", forwarding_rloc(demo, step) == BACKUP)


def recovery(demo: Demo) -> None:
    step = demo.begin(
        "the uplink comes back: lisp2 says so, traffic returns to 10.0.2.2",
        "lisp2's eth0 comes up again; lisp2 registers 10.0.2.2 with the R bit set and "
        "sends lisp1 an SMR; the priority-1 RLOC takes the traffic back.",
    )
    smrs = demo.counter("lisp2", "out.smr")
    stream = demo.ping_stream(step, "lisp1", "192.168.1.1", REMOTE, 40)
    demo.lab_command(step, "exec", "lisp2", "--", "ip", "link", "set", "eth0", "up")
    demo.check(step, "lisp1 marks 10.0.2.2 up again", wait_for(demo, {PRIMARY: "up", BACKUP: "up"}))
    own_rlocs_told(demo, step, smrs, reachable=True)
    answered = stream.finish()
    demo.check(step, "no ping of the stream was lost", len(answered) == 40)
    demo.check(step, "lisp1 encapsulates to 10.0.2.2 again", forwarding_rloc(demo, step) == PRIMARY)
    demo.lab_command(step, "show", "lisp1", "statistics")


def capture_checks(timeline: list[Event]) -> list[tuple[str, bool]]:
    """Probes and their replies to each RLOC, lisp2's SMRs to lisp1, on the wire."""

    def probes(rloc: str) -> list[Event]:
        return [
            e
            for e in timeline
            if e.kind == "map-request" and e.dst == rloc and e.message.get("probe")
        ]

    def replied(rloc: str) -> bool:
        nonces = {e.nonce for e in probes(rloc)}
        return any(
            e.kind == "map-reply"
            and e.dst == "10.0.1.1"
            and e.nonce in nonces
            and e.message.get("probe")
            for e in timeline
        )

    smrs = [
        e
        for e in timeline
        if e.kind == "map-request" and e.dst == "10.0.1.1" and e.message.get("smr")
    ]
    return [
        (
            f"lisp1 probed {rloc} (Map-Request with the P bit to the RLOC); it answered",
            bool(probes(rloc)) and replied(rloc),
        )
        for rloc in (PRIMARY, BACKUP)
    ] + [
        (
            "lisp2 sent SMRs to lisp1 (Map-Request with the S bit), listing only its usable "
            "ITR-RLOC 10.0.3.2 while eth0 was down",
            any(e.message.get("itr_rlocs") == [BACKUP] for e in smrs),
        )
    ]


STORY: tuple[Callable[[Demo], None], ...] = (registrations, flowing, failover, recovery)
