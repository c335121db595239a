"""Data-plane rate through two real xTRs, against kernel VXLAN on the same path, one run.

sudo .venv/bin/python benchmarks/bench_dataplane_lab.py [--engine tun|ebpf|auto]
    [--step S] [--payload N] [--xtr-cpu N] [--rate PPS]...

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
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lispstack.lab.runner import lispstack_argv

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
{engine}
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


LISP = Plane("LISP (lispstack, two xTRs)", "192.168.1.10", "192.168.2.10", lisp=True)
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


def in_node(node: str, *argv: str) -> list[str]:
    return [*lispstack_argv(), "lab", "exec", "--name", LAB, node, "--", *argv]


def run_in(node: str, *argv: str) -> None:
    subprocess.run(in_node(node, *argv), capture_output=True, check=True, timeout=60)


def topology(engine: str | None) -> str:
    key = f'[nodes.config.data-plane]\nengine = "{engine}"\n' if engine else ""
    text = 'name = "benchdp"\n' + CORE
    for site, name in ((1, "lisp1"), (2, "lisp2")):
        other = 3 - site
        text += XTR.format(
            name=name,
            site=site,
            rloc=f"10.0.{site}.{site}",
            gateway=f"10.0.{site}.254",
            core=f"10.0.{other}.0/24",
            engine=key,
        )
    return text


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
    before = {node: statistics(node) for node in XTRS} if plane.lisp else {}
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=("tun", "ebpf", "auto"), help="[data-plane] engine")
    parser.add_argument("--step", type=float, default=2.0, help="seconds per offered rate")
    parser.add_argument("--payload", type=int, default=64)
    parser.add_argument("--xtr-cpu", type=int, help="pin both xTRs to this CPU")
    parser.add_argument(
        "--rate", type=float, action="append", help="offer only these packets/s (repeatable)"
    )
    parser.add_argument("--skip-vxlan", action="store_true", help="measure LISP only")
    args = parser.parse_args()
    lispstack("lab", "down", "--name", LAB, check=False)
    with tempfile.TemporaryDirectory(prefix="benchdp-") as tmp:
        path = Path(tmp) / "benchdp.toml"
        path.write_text(topology(args.engine))
        up = lispstack("lab", "up", str(path), "--name", LAB, check=False)
    if up.returncode != 0:
        raise SystemExit(f"lab up failed: {up.stderr.strip()}")
    try:
        add_vxlan()
        xtrs = pids()
        if args.xtr_cpu is not None:
            for pid in xtrs.values():
                subprocess.run(["taskset", "-a", "-p", "-c", str(args.xtr_cpu), str(pid)],
                               capture_output=True, check=True)  # fmt: skip
        for plane, source in ((LISP, "192.168.1.10"), (VXLAN, "10.99.1.1")):
            run_in("h1", "ping", "-c", "2", "-W", "2", "-I", source, plane.destination)
        time.sleep(0.5)
        engine = args.engine or "the node's default"
        print(f"engine: {engine}; xTRs pinned to CPU {args.xtr_cpu}" if args.xtr_cpu is not None
              else f"engine: {engine}")  # fmt: skip
        lisp = measure(LISP, args, xtrs)
        if args.skip_vxlan:
            return
        vxlan = measure(VXLAN, args, {})
        if lisp and vxlan:
            ratio = lisp / vxlan
            verdict = "met" if ratio >= 0.8 else "not met"
            print(f"goal: LISP >= 0.8 x kernel VXLAN lossless: {ratio:.2f} x ({verdict})")
    finally:
        lispstack("lab", "down", "--name", LAB, check=False)


if __name__ == "__main__":
    main()
