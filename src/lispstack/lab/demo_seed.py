"""The seed scenario's steps (docs/seed-scenario.md), each a function of the running demo."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lispstack.config import render_config
from lispstack.lab.demo import Demo, Step


def registrations(demo: Demo) -> None:
    step = demo.begin(
        "both sites are registered",
        "lisp1 and lisp2 sent authenticated Map-Registers; the Map-Server checked the key "
        "and the prefix, and answered with Map-Notifies.",
    )
    check_registered(
        demo,
        step,
        [(0, "192.168.1.0/24", "10.0.1.1", "site-a"), (0, "192.168.2.0/24", "10.0.2.2", "site-b")],
    )


def check_registered(
    demo: Demo, step: Step, expected: list[tuple[int, str, str, str]], server: str = "mapserver"
) -> None:
    """Show the Map-Server's registrations; check each (iid, EID prefix, RLOC, site)."""
    demo.lab_command(step, "show", server, "registrations")
    registered = {(r.get("iid", 0), r["eid"]): r for r in demo.ask(server, "registrations")}
    for iid, eid, rloc, site in expected:
        entry = registered.get((iid, eid), {})
        demo.check(
            step,
            f"{f'[{iid}]' if iid else ''}{eid} registered by {rloc} for {site}",
            entry.get("registered_by") == rloc and entry.get("site") == site,
        )


def not_eligible(demo: Demo) -> None:
    step = demo.begin(
        "not LISP-eligible: ping 4.2.2.2 from the RLOC address 10.0.1.1",
        "The source is not inside lisp1's EID prefix, so the packet is routed natively "
        "(and fails: there is no route to 4.2.2.2); no Map-Request is sent.",
    )
    demo.check(step, "the ping fails", not demo.ping(step, "10.0.1.1", "4.2.2.2"))
    demo.lab_command(step, "show", "lisp1", "statistics")
    demo.check(
        step,
        "lisp1 sent no Map-Request (out.map-request = 0)",
        demo.counter("lisp1", "out.map-request") == 0,
    )
    demo.lab_command(step, "show", "lisp1", "map-cache")
    demo.check(step, "lisp1's map-cache is empty", demo.ask("lisp1", "map-cache") == [])


def negative(demo: Demo) -> None:
    step = demo.begin(
        "negative mapping: ping 4.2.2.2 from the EID 192.168.1.1",
        "lisp1 misses in its map-cache and sends an ECM Map-Request; the Map-Resolver "
        "answers 0.0.0.0/1 natively-forward, the least-specific prefix overlapping no "
        "site. Packets to it are then forwarded natively with no new Map-Request.",
    )
    demo.check(step, "the ping fails natively", not demo.ping(step, "192.168.1.1", "4.2.2.2"))
    demo.lab_command(step, "show", "lisp1", "map-cache")
    entry = {e["eid"]: e for e in demo.ask("lisp1", "map-cache")}.get("0.0.0.0/1", {})
    demo.check(
        step,
        "lisp1 caches 0.0.0.0/1 natively-forward",
        entry.get("action") == "natively-forward" and entry.get("rlocs") == [],
    )
    demo.check(
        step,
        "the negative Map-Reply came from the Map-Resolver 10.0.1.254",
        entry.get("source") == "10.0.1.254",
    )
    before = demo.counter("lisp1", "out.map-request")
    demo.ping(step, "192.168.1.1", "4.2.2.2")
    demo.lab_command(step, "show", "lisp1", "statistics")
    after = demo.counter("lisp1", "out.map-request")
    demo.check(step, "one Map-Request for the first ping", before == 1)
    demo.check(step, "the second ping sends no new Map-Request", after == before)


def positive(demo: Demo) -> None:
    step = demo.begin(
        "positive mapping through the Map-Server: ping 192.168.1.1 -> 192.168.2.1",
        "The Map-Server forwards lisp1's ECM to lisp2, which answers lisp1 directly; "
        "lisp1 encapsulates to 10.0.2.2, and lisp2 resolves the way back the same way.",
    )
    forwarded = demo.counter("mapserver", "forward.to-etr")
    demo.check(step, "the first ping succeeds", demo.ping(step, "192.168.1.1", "192.168.2.1"))
    demo.lab_command(step, "show", "lisp1", "map-cache")
    demo.lab_command(step, "show", "lisp2", "map-cache")
    lisp1 = {e["eid"]: e for e in demo.ask("lisp1", "map-cache")}
    lisp2 = {e["eid"]: e for e in demo.ask("lisp2", "map-cache")}
    to_b = lisp1.get("192.168.2.0/24", {})
    to_a = lisp2.get("192.168.1.0/24", {})
    demo.check(
        step,
        "lisp1 maps 192.168.2.0/24 to 10.0.2.2",
        [r["address"] for r in to_b.get("rlocs", [])] == ["10.0.2.2"],
    )
    demo.check(
        step,
        "lisp2 maps 192.168.1.0/24 to 10.0.1.1",
        [r["address"] for r in to_a.get("rlocs", [])] == ["10.0.1.1"],
    )
    demo.check(
        step,
        "lisp2 answered lisp1 itself (authoritative Map-Reply from 10.0.2.2)",
        to_b.get("authoritative") is True and to_b.get("source") == "10.0.2.2",
    )
    demo.check(
        step,
        "lisp1 answered lisp2 itself (authoritative Map-Reply from 10.0.1.1)",
        to_a.get("authoritative") is True and to_a.get("source") == "10.0.1.1",
    )
    demo.lab_command(step, "show", "mapserver", "statistics")
    demo.check(
        step,
        "the Map-Server forwarded both Map-Requests to the ETRs (forward.to-etr +2)",
        demo.counter("mapserver", "forward.to-etr") - forwarded >= 2,
    )
    demo.lab_command(step, "show", "lisp1", "forwarding", "192.168.2.1")
    decision = demo.ask("lisp1", "forwarding", "192.168.2.1")
    demo.check(step, "lisp1 encapsulates to 10.0.2.2", decision.get("rloc") == "10.0.2.2")


def proxy_reply(demo: Demo) -> None:
    step = demo.begin(
        "proxy-reply: the Map-Server answers for lisp2",
        "lisp2 re-registers asking for proxy-reply; lisp1's map-cache is cleared (by "
        "restarting lisp1); the next resolution is answered by the Map-Server itself.",
    )
    lisp2 = demo.topology.node("lisp2").config
    assert lisp2 is not None
    servers = tuple(replace(server, proxy_reply=True) for server in lisp2.map_servers)
    config = demo.lab.directory / "lisp2-proxy-reply.toml"
    config.write_text(render_config(replace(lisp2, map_servers=servers)))
    state = demo.lab.state() or {"nodes": {}}
    demo.lab.restart_node("lisp2", config)
    demo.lab.restart_node("lisp1", Path(state["nodes"]["lisp1"]["config"]))
    registered = all(demo.lab.wait_registered(node) for node in ("lisp1", "lisp2"))
    demo.check(step, "lisp1 and lisp2 registered again", registered)
    demo.lab_command(step, "show", "lisp1", "map-cache")
    demo.check(step, "lisp1's map-cache is cleared", demo.ask("lisp1", "map-cache") == [])
    demo.lab_command(step, "show", "mapserver", "registrations")
    proxies = {r["eid"]: r["proxy_reply"] for r in demo.ask("mapserver", "registrations")}
    demo.check(
        step, "lisp2's registration asks for proxy-reply", proxies.get("192.168.2.0/24") is True
    )
    before = demo.counter("mapserver", "reply.proxy")
    demo.check(step, "the ping succeeds", demo.ping(step, "192.168.1.1", "192.168.2.1"))
    demo.lab_command(step, "show", "lisp1", "map-cache", "192.168.2.1")
    entry = {e["eid"]: e for e in demo.ask("lisp1", "map-cache")}.get("192.168.2.0/24", {})
    demo.check(
        step,
        "the Map-Server sent a proxy Map-Reply (reply.proxy went up)",
        demo.counter("mapserver", "reply.proxy") > before,
    )
    demo.check(
        step,
        "lisp1's entry came from the Map-Server 10.0.1.254, not authoritative, RLOC 10.0.2.2",
        entry.get("source") == "10.0.1.254"
        and entry.get("authoritative") is False
        and [r["address"] for r in entry.get("rlocs", [])] == ["10.0.2.2"],
    )


STORY: tuple[Callable[[Demo], None], ...] = (
    registrations,
    not_eligible,
    negative,
    positive,
    proxy_reply,
)
