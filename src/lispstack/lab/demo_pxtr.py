"""The proxy xTR story (`lispstack demo --pxtr`, the seed-pxtr lab): steps after registration."""

from __future__ import annotations

from collections.abc import Callable

from lispstack.lab.demo import Demo
from lispstack.lab.demo_seed import registrations


def site_to_internet(demo: Demo) -> None:
    step = demo.begin(
        "a LISP site reaches the non-LISP host 4.2.2.2 through the PETR",
        "lisp1 gets 0.0.0.0/1 natively-forward from the Map-Resolver, but instead of "
        "sending natively it encapsulates to its PETR (pxtr), which decapsulates and "
        "forwards natively; the reply comes back through pxtr acting as PITR.",
    )
    demo.check(
        step,
        "ping 192.168.1.1 -> 4.2.2.2 succeeds",
        demo.ping(step, "192.168.1.1", "4.2.2.2", count=2),
    )
    demo.lab_command(step, "show", "lisp1", "forwarding", "4.2.2.2")
    decision = demo.ask("lisp1", "forwarding", "4.2.2.2")
    demo.check(
        step,
        "lisp1 encapsulates natively-forward traffic to the PETR 10.0.3.3",
        decision.get("rloc") == "10.0.3.3",
    )
    demo.check(step, "lisp1 sent packets to the PETR", demo.counter("lisp1", "encap.to-petr") >= 2)
    demo.check(
        step,
        "pxtr decapsulated them and forwarded them natively",
        demo.counter("pxtr", "petr.forwarded") >= 2,
    )


def internet_to_site(demo: Demo) -> None:
    step = demo.begin(
        "the non-LISP host reaches a LISP site through the PITR",
        "4.2.2.2's route to 192.168.0.0/16 points at pxtr, which attracts that traffic "
        "as a Proxy-ITR: it resolves 192.168.2.1 (Map-Request with the PITR bit) and "
        "encapsulates to lisp2; lisp2's reply goes back through the PETR.",
    )
    demo.check(
        step,
        "ping 4.2.2.2 -> 192.168.2.1 succeeds",
        demo.ping(step, "4.2.2.2", "192.168.2.1", count=2, node="internet"),
    )
    demo.lab_command(step, "show", "pxtr", "map-cache")
    cache = {e["eid"]: e for e in demo.ask("pxtr", "map-cache")}
    rlocs = [r["address"] for r in cache.get("192.168.2.0/24", {}).get("rlocs", [])]
    demo.check(step, "pxtr's map-cache maps 192.168.2.0/24 to 10.0.2.2", rlocs == ["10.0.2.2"])
    demo.check(step, "pxtr encapsulated as a PITR", demo.counter("pxtr", "pitr.packets") >= 2)


STORY: tuple[Callable[[Demo], None], ...] = (registrations, site_to_internet, internet_to_site)
