"""The multihoming story (`lispstack demo --multihoming`, the multihomed lab): lisp2's
first uplink is cut, lisp1's RLOC probes miss, traffic fails over to the second RLOC,
and comes back when the uplink does. Probes every second, two misses (the lab's configs).
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


def failover(demo: Demo) -> None:
    step = demo.begin(
        "the primary uplink is cut: probes miss, traffic fails over to 10.0.3.2",
        f"A stream of {STREAM} pings, 0.1 s apart, runs while lisp2's eth0 goes down "
        "(ip link set eth0 down). lisp1's probes of 10.0.2.2 go unanswered; after two "
        "misses it marks the RLOC down, and the priority-2 RLOC takes the traffic.",
    )
    stream = demo.ping_stream(step, "lisp1", "192.168.1.1", REMOTE, STREAM)
    time.sleep(1.0)
    demo.lab_command(step, "exec", "lisp2", "--", "ip", "link", "set", "eth0", "down")
    demo.check(
        step,
        "lisp1 marks 10.0.2.2 down, 10.0.3.2 stays up",
        wait_for(demo, {PRIMARY: "down", BACKUP: "up"}),
    )
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
        "the uplink comes back: a probe is answered, traffic returns to 10.0.2.2",
        "lisp2's eth0 comes up again; lisp1 keeps probing the down RLOC, the next probe "
        "reply marks it up, and the priority-1 RLOC takes the traffic back.",
    )
    stream = demo.ping_stream(step, "lisp1", "192.168.1.1", REMOTE, 40)
    demo.lab_command(step, "exec", "lisp2", "--", "ip", "link", "set", "eth0", "up")
    demo.check(step, "lisp1 marks 10.0.2.2 up again", wait_for(demo, {PRIMARY: "up", BACKUP: "up"}))
    answered = stream.finish()
    demo.check(step, "no ping of the stream was lost", len(answered) == 40)
    demo.check(step, "lisp1 encapsulates to 10.0.2.2 again", forwarding_rloc(demo, step) == PRIMARY)
    demo.lab_command(step, "show", "lisp1", "statistics")


def capture_checks(timeline: list[Event]) -> list[tuple[str, bool]]:
    """Probes and their replies to each RLOC, on the wire."""

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

    return [
        (
            f"lisp1 probed {rloc} (Map-Request with the P bit to the RLOC); it answered",
            bool(probes(rloc)) and replied(rloc),
        )
        for rloc in (PRIMARY, BACKUP)
    ]


STORY: tuple[Callable[[Demo], None], ...] = (registrations, flowing, failover, recovery)
