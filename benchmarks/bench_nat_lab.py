"""NAT traversal in the nat lab: an xTR's start behind the NAT to its first delivered packet,
and the RTR's forwarding rate.

sudo .venv/bin/python benchmarks/bench_nat_lab.py [--starts N] [--seconds S] [--rate PPS]...

1. Start: with the nat lab up, a host in `public` listens on 192.168.20.1 and a
   host in `natted` sends a UDP datagram from 192.168.10.1 every 2 ms. natted's
   xTR is restarted (`lab restart`, a new xTR-ID); the time from the new xTR's
   "node up" log line (and from the old one's stop) to the first datagram sent
   after that stop which the public host receives is printed, N times.
   Until natted has an Info-Reply it has no way out (its Map-Requests name its
   private RLOC, which nothing can answer), so this is the Info exchange, the
   registration through the RTR (the 0.0.0.0/0 entry is installed at once),
   and the RTR's own resolution of 192.168.20.1 when its map-cache is cold.
2. Rate: UDP floods, 64-byte payloads, 192.168.10.1 -> 192.168.20.1 through
   the NAT and the RTR (natted encapsulates to the RTR, which re-encapsulates
   to public): what was sent, received, and the RTR's counters.

Not a test: it prints numbers and gates nothing. The lab is always torn down.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import bench_dataplane_lab as dataplane_lab
from bench_dataplane_lab import RECEIVER, SENDER, lispstack

LAB = "benchnat"
FIRST = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.168.20.1", 9001))
s.settimeout(float(sys.argv[1]))
print("ready", flush=True)
since = float(sys.stdin.readline())
while float(s.recv(2048)) < since:
    pass
print(repr(time.time()), flush=True)
"""
TICKER = """
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.168.10.1", 0))
while True:
    try:
        s.sendto(repr(time.time()).encode(), ("192.168.20.1", 9001))
    except OSError:
        pass
    time.sleep(0.002)
"""


def in_node(node: str, *argv: str) -> list[str]:
    return dataplane_lab.in_node(node, *argv, lab=LAB)


def log_time(line: str) -> float:
    """The time of a node log line ("2026-12-02 06:07:21,693 natted INFO ...")."""
    stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return stamp.timestamp()


def start_to_first_packet() -> tuple[float, float]:
    """(seconds from the new xTR's "node up" log line, and from the old one's "stopped",
    to the first datagram sent after the old xTR stopped that reached the public host)"""
    receiver = subprocess.Popen(
        in_node("public", sys.executable, "-c", FIRST, "60"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert receiver.stdout is not None
    if receiver.stdout.readline().strip() != "ready":
        raise SystemExit("the receiver in public did not start")
    ticker = subprocess.Popen(
        in_node("natted", sys.executable, "-c", TICKER), start_new_session=True
    )
    try:
        lispstack("lab", "restart", "--name", LAB, "natted")
        log = Path(f"/run/lispstack/lab/{LAB}/natted.log").read_text().splitlines()
        stopped = log_time([line for line in log if "node natted stopped" in line][-1])
        up = log_time([line for line in log if "node natted up" in line][-1])
        arrived = float(receiver.communicate(f"{stopped!r}\n", timeout=90)[0].strip())
    finally:
        for process in (ticker, receiver):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait()
    return arrived - up, arrived - stopped


def flood(seconds: float, rate: float) -> None:
    receiver = subprocess.Popen(
        in_node("public", sys.executable, "-c", RECEIVER, "192.168.20.1", str(seconds)),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout is not None
    if receiver.stdout.readline().strip() != "ready":
        raise SystemExit("the receiver in public did not start")
    before = dataplane_lab.statistics("rtr", LAB)
    argv = ["192.168.10.1", "192.168.20.1", str(seconds), "64", str(rate)]
    sender = subprocess.run(
        in_node("natted", sys.executable, "-c", SENDER, *argv),
        capture_output=True,
        text=True,
        check=True,
    )
    sent, _ = (int(n) for n in sender.stdout.split())
    received = int(receiver.communicate(timeout=seconds + 30)[0].split()[0])
    after = dataplane_lab.statistics("rtr", LAB)
    forwarded = int(after.get("rtr.re-encapsulated", 0)) - int(before.get("rtr.re-encapsulated", 0))
    paced = f"paced at {rate:,.0f}/s" if rate else "unpaced"
    print(f"UDP 192.168.10.1 -> RTR -> 192.168.20.1, 64-byte payloads, {seconds:g} s, {paced}")
    print(f"  sent by natted's host     {sent:>10,} ({sent / seconds:,.0f}/s)")
    print(f"  re-encapsulated by the RTR {forwarded:>9,} ({forwarded / seconds:,.0f}/s)")
    print(f"  received by public's host {received:>10,} ({received / seconds:,.0f}/s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, action="append", help="packets/s; 0: unpaced")
    args = parser.parse_args()
    lispstack("lab", "down", "--name", LAB, check=False)
    up = lispstack("lab", "up", "nat", "--name", LAB, check=False)
    if up.returncode != 0:
        raise SystemExit(f"lab up failed: {up.stderr.strip()}")
    try:
        for _ in range(args.starts):
            from_up, from_stop = start_to_first_packet()
            print(
                f"xTR behind the NAT up -> first packet delivered: {from_up:.3f} s "
                f"({from_stop:.3f} s from the old xTR's stop, process start included)"
            )
            time.sleep(1.0)
        dataplane_lab.resolve(
            ("natted", "192.168.10.1", "192.168.20.1"),
            ("public", "192.168.20.1", "192.168.10.1"),
            lab=LAB,
        )
        for rate in args.rate or [0.0]:
            flood(args.seconds, rate)
    finally:
        lispstack("lab", "down", "--name", LAB, check=False)


if __name__ == "__main__":
    main()
