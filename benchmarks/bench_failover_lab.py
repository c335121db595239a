"""Failover on RLOC probes in a real lab: packets lost when the primary uplink dies.

sudo .venv/bin/python benchmarks/bench_failover_lab.py [--interval S] [--misses N]
    [--seconds T]

The multihomed lab of tests/helpers/multihomed_lab.py (lisp2: RLOC 10.0.2.2
priority 1 on eth0, 10.0.3.2 priority 2 on eth1). lisp1 pings 192.168.2.1
from 192.168.1.1 at 100 packets/s for T seconds; 3 s in, lisp2's eth0 goes
down. Printed: packets sent and lost, the time without traffic (the longest
gap between two replies, from ping -D),
and the goal, interval x misses + 1 s. Not a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import itertools

from helpers.multihomed_lab import LISPSTACK, lab_exec, multihomed_lab, ping


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=int, default=1)
    parser.add_argument("--misses", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
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
