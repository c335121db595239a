"""Data-plane rate through two real xTRs, against kernel VXLAN on the same path, one run.

sudo .venv/bin/python benchmarks/bench_dataplane_lab.py [--engine tun|ebpf|auto|oor]...
    [--oor PATH] [--step S] [--payload N] [--xtr-cpu N] [--rate PPS]...

 h1 192.168.1.10 -- [lisp1] 10.0.1.1 -- [core] -- 10.0.2.2 [lisp2] -- h2 192.168.2.10
    10.99.1.1          vx0 10.98.0.1   ...VXLAN 4789...   vx0 10.98.0.2    10.99.2.1

Each EID host has its own namespace behind its xTR, so the xTRs route the
traffic (not their own). The same two xTR namespaces also hold a kernel
VXLAN tunnel (VNI 42, between the same RLOC addresses), which carries the
hosts' second addresses (10.99.x.1): the reference, with the same sender
(a Python UDP flood from h1 to h2, 64-byte payloads by default) and the
same receiver, measured in the same run.

For each plane it prints the lossless rate (at most 0.1 % lost) found by
stepped rates (doubling from 5,000/s, then a bisection), each step --step
seconds, then an unpaced flood; for LISP also the xTRs' CPU time per
packet (their /proc/PID/stat) and counters. --rate instead offers only the
given rates. --engine writes `[data-plane] engine = ...` into both xTRs'
configs (without it the key is left out: the node's default). --xtr-cpu
pins both xTRs (and nothing else) to one CPU, as the figures in issue 13
were taken. The lab is always torn down. Not a test: it prints numbers
and gates nothing.

--engine oor runs Open Overlay Router (C, its TUN data plane; the binary
from --oor, built by hand: it is no dependency of lispstack) as both xTRs
instead: the same namespaces, RLOCs and EID prefixes, registering with the
same lispstack Map-Server and asking its Map-Resolver; the lab holds lisp1
and lisp2 as plain routers (with the default route OOR wants on its RLOC
interface) and the benchmark starts OOR in them. --engine may be given
several times: each engine gets a lab of its own, its VXLAN measurement
(first: OOR's raw UDP data socket takes a copy of every datagram to lisp2,
VXLAN's too) and its LISP one, and a summary line (TUN / OOR when both ran).

Measured on 2 December 2026, nothing else running, --xtr-cpu 1, lossless
(unpaced, delivered) packets/s; docs/performance.md has the whole table:

    tun, oor alternated (4 labs each)
                                    TUN 24,376-30,000 (23,774-32,552)
                                    OOR 24,376-39,964 (34,044-36,224)
                                    TUN / OOR 0.70-1.15 x, medians 0.78 x
                                    (goal 1.0 x not met: ~9-10 us of Python
                                    per packet and xTR against ~2 us of C)
    --engine ebpf                   92,504 (86,624), kernel VXLAN 74,624:
                                    1.24 x (goal 0.8 x)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lispstack.lab import netns
from lispstack.lab.processes import alive
from lispstack.lab.runner import lispstack_argv
from lispstack.lab.state import LabFiles

LAB = "benchdp"
LOSSLESS = 0.001
"""A step is lossless when at most this share of what was sent did not arrive."""
START_RATE = 5_000.0
BISECTIONS = 5
XTRS = ("lisp1", "lisp2")

XTR = """
[[nodes]]
name = "{name}"
addresses = []
routes = ["{core} via {gateway}", "10.99.{site}.0/24 via 192.168.{site}.10"]
forwarding = true
{config}
[[nodes]]
name = "h{site}"
addresses = ["eth0 10.99.{site}.1/32"]
routes = ["0.0.0.0/0 via 192.168.{site}.1"]

[[links]]
a = "{name} eth0 {rloc}/24"
b = "core to-{name} {gateway}/24"

[[links]]
a = "h{site} eth0 192.168.{site}.10/24"
b = "{name} site 192.168.{site}.1/24"
"""
XTR_CONFIG = """
[nodes.config.node]
roles = ["itr", "etr"]
[[nodes.config.database-mappings]]
eid-prefix = "192.168.{site}.0/24"
rlocs = [{{ address = "{rloc}", priority = 1, weight = 100 }}]
[[nodes.config.map-servers]]
address = "{gateway}"
auth-key = "site-{site}-secret"
[[nodes.config.map-resolvers]]
address = "{gateway}"
{engine}"""
OOR_CONFIG = """
operating-mode = xTR
encapsulation = LISP
debug = 0
map-request-retries = 2
nat_traversal_support = off
rloc-probing {{
    rloc-probe-interval = 0
    rloc-probe-retries = 0
    rloc-probe-retries-interval = 5
}}
map-resolver = {{
    {gateway}
}}
map-server {{
    address = {gateway}
    key-type = 1
    key = site-{site}-secret
    proxy-reply = off
}}
database-mapping {{
    eid-prefix = 192.168.{site}.0/24
    iid = 0
    ttl = 1440
    rloc-iface {{
        interface = eth0
        ip_version = 4
        priority = 1
        weight = 100
    }}
}}
"""
OOR_DEFAULT = "/work/oorbuild/oor/oor"
CORE = """
[[nodes]]
name = "core"
forwarding = true
[nodes.config.node]
roles = ["map-server", "map-resolver"]
[[nodes.config.sites]]
name = "site-1"
auth-key = "site-1-secret"
eid-prefixes = ["192.168.1.0/24"]
[[nodes.config.sites]]
name = "site-2"
auth-key = "site-2-secret"
eid-prefixes = ["192.168.2.0/24"]
"""
SENDER = """
import socket, sys, time
source, destination = sys.argv[1], sys.argv[2]
seconds, size, rate = float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((source, 0))
payload, sent, failed = b"x" * size, 0, 0
start = time.monotonic()
end = start + seconds
while (now := time.monotonic()) < end:
    if rate and sent > (now - start) * rate:
        time.sleep(0.0002)
        continue
    for _ in range(16 if rate else 64):
        try:
            s.sendto(payload, (destination, 9000))
            sent += 1
        except OSError:
            failed += 1
print(sent, failed)
"""
RECEIVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((sys.argv[1], 9000))
s.settimeout(float(sys.argv[2]) + 5)
received = 0
print("ready", flush=True)
try:
    while True:
        s.recv(2048)
        if not received:
            s.settimeout(1.0)
        received += 1
except TimeoutError:
    pass
print(received)
"""


@dataclass(frozen=True)
class Plane:
    name: str
    source: str
    destination: str
    lisp: bool
    counted: bool = False
    """The xTRs are lispstack nodes: their counters are read around each step."""


LISP = Plane("LISP (lispstack, two xTRs)", "192.168.1.10", "192.168.2.10", lisp=True, counted=True)
OOR = replace(LISP, name="LISP (OOR, two xTRs)", counted=False)
VXLAN = Plane("kernel VXLAN (same namespaces)", "10.99.1.1", "10.99.2.1", lisp=False)


@dataclass(frozen=True)
class Step:
    rate: float
    seconds: float
    sent: int
    received: int
    cpu_us: dict[str, float]
    """The xTRs' CPU time per packet sent, by node (LISP only)."""
    counters: dict[str, dict[str, int]]

    @property
    def lost(self) -> float:
        return (self.sent - self.received) / self.sent if self.sent else 1.0

    @property
    def lossless(self) -> bool:
        return self.sent > 0 and self.lost <= LOSSLESS


def lispstack(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*lispstack_argv(), *args], capture_output=True, text=True, check=check, timeout=180
    )


def in_node(node: str, *argv: str, lab: str = LAB) -> list[str]:
    return [*lispstack_argv(), "lab", "exec", "--name", lab, node, "--", *argv]


def run_in(node: str, *argv: str) -> None:
    subprocess.run(in_node(node, *argv), capture_output=True, check=True, timeout=60)


def topology(engine: str | None) -> str:
    """The lab; with engine "oor" the xTRs are plain routers, OOR started in them later."""
    key = f'[nodes.config.data-plane]\nengine = "{engine}"\n' if engine else ""
    text = 'name = "benchdp"\n' + CORE
    for site, name in enumerate(XTRS, 1):
        gateway = f"10.0.{site}.254"
        config = XTR_CONFIG.format(
            site=site, rloc=f"10.0.{site}.{site}", gateway=gateway, engine=key
        )
        text += XTR.format(
            name=name,
            site=site,
            rloc=f"10.0.{site}.{site}",
            gateway=gateway,
            core="0.0.0.0/0" if engine == "oor" else f"10.0.{3 - site}.0/24",
            config="" if engine == "oor" else config,
        )
    return text


def start_oor(binary: str) -> dict[str, int]:
    """OOR as both xTRs (its log: the lab's NODE.log); back once the Map-Server lists both."""
    lab = LabFiles(LAB)
    started = {}
    for site, name in enumerate(XTRS, 1):
        config = lab.directory / f"{name}.oor.conf"
        config.write_text(OOR_CONFIG.format(site=site, gateway=f"10.0.{site}.254"))
        process = netns.popen_in(
            lab.namespace(name), [binary, "-f", str(config)], str(lab.log(name))
        )
        started[name] = process.pid
    deadline = time.monotonic() + 30
    while True:
        for name, pid in started.items():
            if not alive(pid):
                raise SystemExit(f"OOR in {name} stopped; its log:\n{lab.tail(name)}")
        shown = lispstack("lab", "show", "--name", LAB, "core", "registrations", "--json")
        registered = {r["eid"] for r in json.loads(shown.stdout)}
        if {"192.168.1.0/24", "192.168.2.0/24"} <= registered:
            return started
        if time.monotonic() > deadline:
            raise SystemExit(f"OOR did not register in 30 s (Map-Server lists {registered})")
        time.sleep(0.2)


def add_vxlan() -> None:
    """vx0 in each xTR namespace, between the RLOCs; the hosts' 10.99.x.1 routed over it."""
    for site, name in ((1, "lisp1"), (2, "lisp2")):
        other = 3 - site
        local, remote = f"10.0.{site}.{site}", f"10.0.{other}.{other}"
        run_in(name, "ip", "link", "add", "vx0", "type", "vxlan", "id", "42", "local", local,
               "remote", remote, "dstport", "4789", "dev", "eth0")  # fmt: skip
        run_in(name, "ip", "address", "add", f"10.98.0.{site}/30", "dev", "vx0")
        run_in(name, "ip", "link", "set", "vx0", "up")
        run_in(name, "ip", "route", "add", f"10.99.{other}.0/24", "via", f"10.98.0.{other}")


def pids() -> dict[str, int]:
    status = json.loads(lispstack("lab", "status", "--name", LAB, "--json").stdout)
    return {n["node"]: int(n["pid"]) for n in status["nodes"] if n["node"] in XTRS}


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def statistics(node: str, lab: str = LAB) -> dict[str, Any]:
    shown = lispstack("lab", "show", "--name", lab, node, "statistics", "--json")
    counters: dict[str, Any] = json.loads(shown.stdout)
    return counters


def flood(plane: Plane, seconds: float, payload: int, rate: float, xtrs: dict[str, int]) -> Step:
    receiver = subprocess.Popen(
        in_node("h2", sys.executable, "-c", RECEIVER, plane.destination, str(seconds)),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout is not None
    if receiver.stdout.readline().strip() != "ready":
        raise SystemExit("the receiver in h2 did not start")
    before = {node: statistics(node) for node in XTRS} if plane.counted else {}
    cpu_before = {node: cpu_seconds(pid) for node, pid in xtrs.items()}
    sender = subprocess.run(
        in_node("h1", sys.executable, "-c", SENDER, plane.source, plane.destination,
                str(seconds), str(payload), str(rate)),
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    sent = int(sender.stdout.split()[0])
    received_text, _ = receiver.communicate(timeout=seconds + 30)
    cpu = {node: cpu_seconds(pid) - cpu_before[node] for node, pid in xtrs.items()}
    counters: dict[str, dict[str, int]] = {}
    for node, earlier in before.items():
        after = statistics(node)
        counters[node] = {
            name: after[name] - int(earlier.get(name, 0))
            for name in sorted(after)
            if isinstance(after[name], int) and after[name] != earlier.get(name, 0)
        }
    cpu_us = {node: used * 1e6 / sent for node, used in cpu.items()} if plane.lisp and sent else {}
    return Step(rate, seconds, sent, int(received_text.split()[0]), cpu_us, counters)


def resolve(*pings: tuple[str, str, str], lab: str = LAB) -> None:
    """Ping (node, source, destination) until an echo comes back (at most 10 echoes, one
    every 0.5 s), so that the map-caches hold the mappings both ways: OOR drops the
    packets that wait for a Map-Reply."""
    for node, source, destination in pings:
        argv = ("ping", "-c", "1", "-W", "0.5", "-I", source, destination)
        for _ in range(10):
            if subprocess.run(in_node(node, *argv, lab=lab), capture_output=True,
                              timeout=30).returncode == 0:  # fmt: skip
                break
        else:
            raise SystemExit(f"{node}: no echo from {destination} (source {source})")


def show(step: Step) -> None:
    offered = f"{step.rate:>9,.0f}/s" if step.rate else "  unpaced"
    line = (
        f"  offered {offered}: sent {step.sent / step.seconds:>9,.0f}/s, "
        f"received {step.received / step.seconds:>9,.0f}/s, lost {step.lost:6.2%}"
    )
    if step.cpu_us:
        line += ", CPU µs/packet " + ", ".join(f"{n} {u:.1f}" for n, u in step.cpu_us.items())
    print(line, flush=True)


def lossless_rate(plane: Plane, args: argparse.Namespace, xtrs: dict[str, int]) -> Step | None:
    """The highest lossless step: doubling from START_RATE, then BISECTIONS halvings."""
    best: Step | None = None
    low, high = 0.0, None
    rate = START_RATE
    while high is None:
        step = flood(plane, args.step, args.payload, rate, xtrs)
        show(step)
        if step.lossless and step.sent >= 0.95 * rate * args.step:
            best, low, rate = step, rate, rate * 2
        else:
            high = rate
    for _ in range(BISECTIONS):
        rate = (low + high) / 2
        step = flood(plane, args.step, args.payload, rate, xtrs)
        show(step)
        if step.lossless and step.sent >= 0.95 * rate * args.step:
            best, low = step, rate
        else:
            high = rate
    return best


def measure(plane: Plane, args: argparse.Namespace, xtrs: dict[str, int]) -> float:
    print(f"{plane.name}: UDP {plane.source} -> {plane.destination}, {args.payload}-byte payloads")
    if args.rate:
        for rate in args.rate:
            show(flood(plane, args.step, args.payload, rate, xtrs))
        return 0.0
    best = lossless_rate(plane, args, xtrs)
    unpaced = flood(plane, args.step, args.payload, 0.0, xtrs)
    show(unpaced)
    for node, changed in unpaced.counters.items():
        shown = ", ".join(f"{k} +{v:,}" for k, v in changed.items())
        print(f"  {node} counters (unpaced): {shown}")
    rate = best.received / best.seconds if best is not None else 0.0
    print(f"  lossless: {rate:,.0f} packets/s")
    return rate


def run_lab(engine: str | None, args: argparse.Namespace) -> tuple[float, float]:
    """One lab on `engine`: the lossless rates of LISP and VXLAN (0 when not measured)."""
    lispstack("lab", "down", "--name", LAB, check=False)
    with tempfile.TemporaryDirectory(prefix="benchdp-") as tmp:
        path = Path(tmp) / "benchdp.toml"
        path.write_text(topology(engine))
        up = lispstack("lab", "up", str(path), "--name", LAB, check=False)
    if up.returncode != 0:
        raise SystemExit(f"lab up failed: {up.stderr.strip()}")
    try:
        add_vxlan()
        name = engine or "the node's default"
        print(f"engine: {name}; xTRs pinned to CPU {args.xtr_cpu}" if args.xtr_cpu is not None
              else f"engine: {name}")  # fmt: skip
        # VXLAN first: OOR's data socket is a raw UDP one, which takes (and drops in user
        # space) a copy of every datagram to lisp2, VXLAN's too.
        resolve(("h1", VXLAN.source, VXLAN.destination))
        vxlan = 0.0 if args.skip_vxlan else measure(VXLAN, args, {})
        xtrs = start_oor(args.oor) if engine == "oor" else pids()
        if args.xtr_cpu is not None:
            for pid in xtrs.values():
                subprocess.run(["taskset", "-a", "-p", "-c", str(args.xtr_cpu), str(pid)],
                               capture_output=True, check=True)  # fmt: skip
        resolve(("h1", LISP.source, LISP.destination))
        time.sleep(0.5)
        lisp = measure(OOR if engine == "oor" else LISP, args, xtrs)
        if lisp and vxlan:
            print(f"LISP / kernel VXLAN lossless: {lisp / vxlan:.2f} x")
        return lisp, vxlan
    finally:
        lispstack("lab", "down", "--name", LAB, check=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--engine",
        choices=("tun", "ebpf", "auto", "oor"),
        action="append",
        help="[data-plane] engine, or oor: OOR as both xTRs (repeatable: one lab each)",
    )
    parser.add_argument("--oor", default=OOR_DEFAULT, help="the OOR binary (--engine oor)")
    parser.add_argument("--step", type=float, default=2.0, help="seconds per offered rate")
    parser.add_argument("--payload", type=int, default=64)
    parser.add_argument("--xtr-cpu", type=int, help="pin both xTRs to this CPU")
    parser.add_argument(
        "--rate", type=float, action="append", help="offer only these packets/s (repeatable)"
    )
    parser.add_argument("--skip-vxlan", action="store_true", help="measure LISP only")
    args = parser.parse_args()
    engines: list[str | None] = args.engine or [None]
    if "oor" in engines and not os.access(args.oor, os.X_OK):
        raise SystemExit(f"no OOR binary at {args.oor} (build OOR, then pass --oor PATH)")
    results = [(engine, *run_lab(engine, args)) for engine in engines]
    if args.rate:
        return
    print("summary (lossless packets/s):")
    oor = [lisp for engine, lisp, _ in results if engine == "oor"]
    tun_runs = 0
    for engine, lisp, vxlan in results:
        line = f"  {engine or 'default'}: LISP {lisp:,.0f}, kernel VXLAN {vxlan:,.0f}"
        if lisp and vxlan:
            line += f", LISP / VXLAN {lisp / vxlan:.2f} x"
            line += " (goal >= 0.8 x)" if engine == "ebpf" else ""
        if engine == "tun" and oor:
            # The k-th TUN lab against the k-th OOR lab (alternating runs), else the first.
            other = oor[tun_runs] if tun_runs < len(oor) else oor[0]
            tun_runs += 1
            line += f", TUN / OOR {lisp / other:.2f} x (goal >= 1.0 x)" if other else ""
        print(line)


if __name__ == "__main__":
    main()
