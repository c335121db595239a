"""Failover in a real lab: packets lost when the multihomed xTR's primary uplink dies.

sudo .venv/bin/python benchmarks/bench_failover_lab.py [--interval S] [--misses N]
    [--seconds T]
sudo .venv/bin/python benchmarks/bench_failover_lab.py --first-packet [--runs R]
    [--engine tun|ebpf] [--interval S] [--misses N]

The multihomed lab of tests/helpers/multihomed_lab.py (lisp2: RLOC 10.0.2.2
priority 1 on eth0, 10.0.3.2 priority 2 on eth1). lisp1 pings 192.168.2.1
from 192.168.1.1 at 100 packets/s for T seconds; 3 s in, lisp2's eth0 goes
down. Printed: packets sent and lost, the time without traffic (the longest
gap between two replies, from ping -D),
and the goal, interval x misses + 1 s. Not a test: it prints numbers.

--first-packet: lisp1 probes at the default interval (60 s, 3 misses) unless
told otherwise, so what moves the traffic is lisp2 watching its own RLOCs
(its re-registration with 10.0.2.2's R bit clear and its SMR). Each of R
runs cuts eth0 while lisp1 pings at 100 packets/s and prints the time from
`ip link set eth0 down` to the first encapsulated packet to 10.0.3.2 seen on
lisp2's eth1 (tcpdump, same clock), then brings eth0 back and waits for the
traffic to return to 10.0.2.2.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import itertools

from helpers.multihomed_lab import LISPSTACK, lab_exec, multihomed_lab, ping, run


def _exec(node: str) -> list[str]:
    return [LISPSTACK, "lab", "exec", "--name", "mhome", node, "--"]


def first_packet_s() -> float:
    """Cut lisp2's eth0 (lisp1 pinging meanwhile): seconds until the first encapsulated
    packet to 10.0.3.2 on eth1."""
    filter_ = "udp dst port 4341 and dst host 10.0.3.2"
    capture = subprocess.Popen(
        [*_exec("lisp2"), "tcpdump", "-i", "eth1", "-n", "-tt", "-l", "-c", "1", filter_],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    stream = subprocess.Popen(
        [
            *_exec("lisp1"),
            "ping",
            "-q",
            "-i",
            "0.01",
            "-c",
            "800",
            "-I",
            "192.168.1.1",
            "192.168.2.1",
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(2.0)  # tcpdump listening, traffic on 10.0.2.2
    cut = lab_exec("lisp2", "sh", "-c", "date +%s.%N; ip link set eth0 down")
    out, _ = capture.communicate(timeout=30)
    stream.wait(timeout=30)
    return float(out.split()[0]) - float(cut.stdout.split()[0])


def back_to_primary() -> None:
    lab_exec("lisp2", "ip", "link", "set", "eth0", "up")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ping()
        shown = run("lab", "show", "--name", "mhome", "lisp1", "forwarding", "192.168.2.1")
        if "10.0.2.2" in shown.stdout:
            return
        time.sleep(0.2)
    raise SystemExit("traffic did not come back to 10.0.2.2")


def first_packet(args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        multihomed_lab(
            Path(directory), interval=args.interval, misses=args.misses, engine=args.engine
        ),
    ):
        deadline = time.monotonic() + 10
        while not ping() and time.monotonic() < deadline:
            time.sleep(0.2)
        times = []
        for _ in range(args.runs):
            times.append(first_packet_s())
            back_to_primary()
    print(f"engine {args.engine}, lisp1 probing every {args.interval} s, {args.misses} misses")
    print("ip link set eth0 down on lisp2 -> first packet to 10.0.3.2 on lisp2's eth1:")
    print("  " + "  ".join(f"{t * 1000:.0f} ms" for t in times))
    print(f"  median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=int, default=None)
    parser.add_argument("--misses", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--first-packet", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", choices=["tun", "ebpf"], default="tun")
    args = parser.parse_args()
    if args.first_packet:
        args.interval = 60 if args.interval is None else args.interval
        first_packet(args)
        return
    args.interval = 1 if args.interval is None else args.interval
    with (
        tempfile.TemporaryDirectory() as directory,
        multihomed_lab(Path(directory), interval=args.interval, misses=args.misses) as lab,
    ):
        deadline = time.monotonic() + 10
        while not ping() and time.monotonic() < deadline:
            time.sleep(0.2)
        count = int(args.seconds * 100)
        # -w: a loaded machine sends fewer than 100 a second; stop at T seconds all the same.
        deadline_s = str(int(args.seconds))
        # -D: each reply's time, for the longest gap between replies (the outage).
        command = ["ping", "-D", "-i", "0.01", "-W", "1", "-c", str(count), "-w", deadline_s]
        command += ["-I", "192.168.1.1"]
        stream = subprocess.Popen(
            [LISPSTACK, "lab", "exec", "--name", lab, "lisp1", "--", *command, "192.168.2.1"],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(3.0)
        lab_exec("lisp2", "ip", "link", "set", "eth0", "down")
        out, _ = stream.communicate(timeout=args.seconds + 60)
    match = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    if match is None:
        raise SystemExit(f"no ping summary in: {out}")
    sent, received = int(match[1]), int(match[2])
    lost = sent - received
    print(f"interval {args.interval} s, misses {args.misses}, 100 pps for {args.seconds:.0f} s")
    print(f"sent {sent}, received {received}, lost {lost}")
    replies = [float(t) for t in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", out, re.M)]
    gap = max((b - a for a, b in itertools.pairwise(replies)), default=0.0)
    print(f"without traffic        {gap:.2f} s (the longest gap between replies)")
    print(f"sent at                {sent / args.seconds:.0f} pps (under 100 on a loaded machine)")
    print(f"goal (interval x misses + 1 s) {args.interval * args.misses + 1:.2f} s")


if __name__ == "__main__":
    main()
