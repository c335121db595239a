"""The tenants story (`lispstack demo --tenants`, the tenants lab): instance-ids 100 and
200, the same addresses in both, each tenant reaching its own hosts and never the other's.

Each tenant pings with its own packet size, so that the capture tells the tenants'
packets apart without their addresses (which are the same): every encapsulated packet
of tenant 100's size must carry instance-id 100, and of tenant 200's, 200.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lispstack.lab.demo import Demo
from lispstack.lab.demo_seed import check_registered
from lispstack.lab.netns import run_in

TENANTS = (100, 200)
SITES = (("10.1.0.0/24", "10.0.1.1", "site-1"), ("10.2.0.0/24", "10.0.2.2", "site-2"))
PINGS = 3


def ping_size(iid: int) -> int:
    """The ICMP data size of tenant `iid`'s pings (its inner packets are 28 bytes more)."""
    return iid


def inner_lengths(iid: int) -> dict[int, int]:
    """Tenant `iid`'s inner packet length by IP version (ICMP and IP headers added)."""
    return {4: ping_size(iid) + 28, 6: ping_size(iid) + 48}


def registrations(demo: Demo) -> None:
    step = demo.begin(
        "both sites registered both tenants",
        "lisp1 and lisp2 each registered the same prefix under instance-ids 100 and 200: "
        "the Map-Server keeps one registration per (instance-id, prefix).",
    )
    check_registered(
        demo, step, [(iid, eid, rloc, site) for eid, rloc, site in SITES for iid in TENANTS]
    )


def echo_requests(demo: Demo, host: str, version: int) -> int:
    """ICMP echo requests of IP `version` that `host` has received (its namespace's
    /proc/net/snmp or snmp6); -1 if unreadable."""
    if version == 6:
        result = run_in(demo.lab.namespace(host), ["cat", "/proc/net/snmp6"])
        counters = dict(line.split()[:2] for line in result.stdout.splitlines() if line.strip())
        return int(counters.get("Icmp6InEchos", -1))
    result = run_in(demo.lab.namespace(host), ["cat", "/proc/net/snmp"])
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("Icmp:")]
    return int(rows[1][rows[0].index("InEchos")]) if len(rows) >= 2 else -1


def tenant_step(iid: int) -> Callable[[Demo], None]:
    other = next(t for t in TENANTS if t != iid)

    def story(demo: Demo) -> None:
        step = demo.begin(
            f"tenant {iid} reaches tenant {iid} across the sites, both ways",
            f"h1-{iid} (10.1.0.2) pings 10.2.0.2, an address both tenants use at site 2: "
            f"lisp1 reads the packet from its instance-id {iid} TUN, resolves "
            f"[{iid}]10.2.0.2 and encapsulates with instance-id {iid}; lisp2 decapsulates "
            f"into instance {iid}'s routing table, which reaches h2-{iid} only.",
        )
        for source, destination, target, untouched, version in (
            (f"h1-{iid}", "10.2.0.2", f"h2-{iid}", f"h2-{other}", 4),
            (f"h2-{iid}", "10.1.0.2", f"h1-{iid}", f"h1-{other}", 4),
            (f"h1-{iid}", "fd00:2::2", f"h2-{iid}", f"h2-{other}", 6),
            (f"h2-{iid}", "fd00:1::2", f"h1-{iid}", f"h1-{other}", 6),
        ):
            before = {host: echo_requests(demo, host, version) for host in (target, untouched)}
            argv = ["ping", "-n", "-c", str(PINGS), "-i", "0.2", "-s", str(ping_size(iid))]
            argv += ["-W", "2"]
            ping = demo.lab_command(step, "exec", source, "--", *argv, destination)
            demo.check(
                step,
                f"{source} -> {destination}: {PINGS} replies",
                f"{PINGS} received" in ping.stdout,
            )
            demo.check(
                step,
                f"{target} got the {PINGS} echo requests to {destination}, {untouched} none",
                echo_requests(demo, target, version) - before[target] == PINGS
                and echo_requests(demo, untouched, version) == before[untouched],
            )
        demo.lab_command(step, "show", "lisp1", "map-cache")
        cached = {(e["iid"], e["eid"]) for e in demo.ask("lisp1", "map-cache")}
        demo.check(step, f"lisp1 caches [{iid}]10.2.0.0/24", (iid, "10.2.0.0/24") in cached)

    return story


def capture_checks(decoded: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """Every encapsulated packet of a tenant's ping size carries that tenant's instance-id."""
    data = [f["message"] for f in decoded if (f.get("message") or {}).get("type") == "data"]
    checks = []
    for iid in TENANTS:
        for version, length in inner_lengths(iid).items():
            sized = [m for m in data if m.get("inner", {}).get("length") == length]
            wrong = [m for m in sized if m.get("instance_id") != iid]
            checks.append(
                (
                    f"tenant {iid}'s {len(sized)} encapsulated IPv{version} packets all carry "
                    f"instance-id {iid}",
                    len(sized) >= 4 * PINGS and not wrong,
                )
            )
    return checks


STORY: tuple[Callable[[Demo], None], ...] = (registrations, *(tenant_step(i) for i in TENANTS))
