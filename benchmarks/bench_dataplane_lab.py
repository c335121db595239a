"""Data-plane rate between two real xTRs: a UDP flood from one EID host to the other.

sudo .venv/bin/python benchmarks/bench_dataplane_lab.py [--seconds S] [--payload N] [--rate PPS]...

Builds the built-in seed lab under its own name, resolves both directions
with a ping, then sends UDP datagrams from 192.168.1.1 (in lisp1) to
192.168.2.1 (in lisp2) as fast as one sender process can for S seconds,
and prints what was sent, what arrived, and the xTRs' own counters
(encapsulated by lisp1, decapsulated by lisp2, drops). The lab is always
torn down. --rate paces the sender (repeat it for a sweep), which shows the
rate the xTRs carry without loss once the sender no longer takes a whole core
of this 2-core machine. Not a test: it prints numbers and gates nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from lispstack.lab.runner import lispstack_argv

LAB = "benchdp"
SENDER = """
import socket, sys, time
seconds, size, rate = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
source, destination = sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((source, 0))
payload, sent, failed = b"x" * size, 0, 0
start = time.monotonic()
end = start + seconds
while (now := time.monotonic()) < end:
    if rate and sent > (now - start) * rate:
        time.sleep(0.0005)
        continue
    for _ in range(64):
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
s.bind((sys.argv[2], 9000))
s.settimeout(float(sys.argv[1]) + 5)
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


def lispstack(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*lispstack_argv(), *args], capture_output=True, text=True, check=check, timeout=120
    )


def in_node(node: str, *argv: str, lab: str = LAB) -> list[str]:
    return [*lispstack_argv(), "lab", "exec", "--name", lab, node, "--", *argv]


def statistics(node: str, lab: str = LAB) -> dict[str, Any]:
    shown = lispstack("lab", "show", "--name", lab, node, "statistics", "--json")
    counters: dict[str, Any] = json.loads(shown.stdout)
    return counters


def flood(seconds: float, payload: int, rate: float) -> None:
    receiver = subprocess.Popen(
        in_node("lisp2", sys.executable, "-c", RECEIVER, str(seconds), "192.168.2.1"),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout is not None
    if receiver.stdout.readline().strip() != "ready":
        raise SystemExit("the receiver in lisp2 did not start")
    before = {node: statistics(node) for node in ("lisp1", "lisp2")}
    sender = subprocess.run(
        in_node(
            "lisp1",
            sys.executable,
            "-c",
            SENDER,
            str(seconds),
            str(payload),
            str(rate),
            "192.168.1.1",
            "192.168.2.1",
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    sent, failed = (int(n) for n in sender.stdout.split())
    received_text, _ = receiver.communicate(timeout=seconds + 30)
    received = int(received_text.split()[0])
    after = {node: statistics(node) for node in ("lisp1", "lisp2")}

    def delta(node: str, counter: str) -> int:
        return int(after[node].get(counter, 0)) - int(before[node].get(counter, 0))

    paced = f"paced at {rate:,.0f}/s" if rate else "unpaced"
    print(f"UDP flood 192.168.1.1 -> 192.168.2.1, {payload}-byte payloads, {seconds:g} s, {paced}")
    print(f"  sent by the host       {sent:>12,} ({sent / seconds:,.0f}/s), {failed:,} refused")
    print(f"  received by the host   {received:>12,} ({received / seconds:,.0f}/s)")
    print(f"  lost                   {sent - received:>12,}")
    for node in ("lisp1", "lisp2"):
        changed = {
            name: delta(node, name)
            for name in sorted(after[node])
            if isinstance(after[node][name], int) and delta(node, name)
        }
        print(f"  {node} counters: " + ", ".join(f"{k} +{v:,}" for k, v in changed.items()))


def resolve(*pings: tuple[str, str, str], lab: str = LAB) -> None:
    """Ping (node, source, destination) twice each, so that the map-caches hold the mappings."""
    for node, source, destination in pings:
        subprocess.run(
            in_node(node, "ping", "-c", "2", "-W", "2", "-I", source, destination, lab=lab),
            capture_output=True,
            check=True,
            timeout=30,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--payload", type=int, default=64)
    parser.add_argument(
        "--rate", type=float, action="append", help="packets/s to offer (repeatable); 0: unpaced"
    )
    args = parser.parse_args()
    lispstack("lab", "down", "--name", LAB, check=False)
    up = lispstack("lab", "up", "seed", "--name", LAB, check=False)
    if up.returncode != 0:
        raise SystemExit(f"lab up failed: {up.stderr.strip()}")
    try:
        resolve(("lisp1", "192.168.1.1", "192.168.2.1"), ("lisp2", "192.168.2.1", "192.168.1.1"))
        time.sleep(0.5)
        for rate in args.rate or [0.0]:
            flood(args.seconds, args.payload, rate)
    finally:
        lispstack("lab", "down", "--name", LAB, check=False)


if __name__ == "__main__":
    main()
