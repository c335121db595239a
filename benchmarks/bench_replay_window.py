"""The Map-Server's replay window: time and memory per remembered nonce (prints a table).

    .venv/bin/python benchmarks/bench_replay_window.py [--etrs N] [--per-minute R] [--hours H]

N ETRs each send R Map-Registers a minute for H hours (a fresh random nonce
each, one check and one insertion, as the Map-Server does per accepted
Map-Register), with the default 24-hour window and bounds. Prints the
microseconds per check and insertion, the nonces remembered, how many were
forgotten early past a bound, and how much the resident set grew per
remembered nonce. Not a test: it gates nothing.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from lispstack.core.replay_window import ReplayWindow


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--etrs", type=int, default=2000)
    parser.add_argument("--per-minute", type=int, default=1)
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    rng = random.Random(1)
    keys = [("site", f"192.0.2.{i}") for i in range(args.etrs)]
    rss_before = _rss_bytes()
    window = ReplayWindow(86_400.0)
    checks = 0
    started = time.perf_counter()
    for minute in range(int(args.hours * 60)):
        for key in keys:
            for repeat in range(args.per_minute):
                nonce = rng.getrandbits(64)
                if not window.seen(key, nonce):
                    window.add(key, nonce, minute * 60.0 + repeat / args.per_minute)
                checks += 1
    elapsed = time.perf_counter() - started
    grown = _rss_bytes() - rss_before
    print(
        f"{args.etrs:,} ETRs x {args.per_minute}/minute x {args.hours:g} h:"
        f" {elapsed / checks * 1e6:.2f} µs per check and insertion,"
        f" {len(window):,} nonces remembered, {window.shortened:,} slices forgotten early,"
        f" RSS grew {grown / 2**20:,.0f} MiB ({grown / max(1, len(window)):.1f} bytes per nonce)"
    )


if __name__ == "__main__":
    main()
