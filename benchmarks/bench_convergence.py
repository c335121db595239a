"""Convergence after an RLOC change: pub-sub (RFC 9437) and SMR, real daemons on loopback.

sudo flock /tmp/lispstack-tests.lock .venv/bin/python benchmarks/bench_convergence.py [--runs N]

tests/helpers/convergence_rig.py: a Map-Server/Map-Resolver, lisp1 (ITR) holding
lisp2's mapping, lisp2 (ETR) whose RLOC changes by live reload. Timed: from the
reload request on lisp2's control socket to lisp1's map-cache holding the new RLOC
(polled on its control socket every millisecond). With pub-sub, lisp1 subscribes
and nothing else can tell it (no SMR: lisp2 has not seen it); with SMR, lisp1
does not subscribe and lisp2 sends it an SMR. Goals (issue 14): under 100 ms
with pub-sub, under 1 s with SMR. Not a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.convergence_rig import NEW_RLOC, convergence_rig, wait_for


def converge(subscribe: bool) -> float:
    """Milliseconds from the reload to the new RLOC in lisp1's map-cache."""
    with (
        tempfile.TemporaryDirectory() as directory,
        convergence_rig(Path(directory), subscribe=subscribe) as rig,
    ):
        started = rig.move()
        if not wait_for(lambda: rig.cached_rlocs() == [NEW_RLOC], 10, 0.001):
            raise SystemExit(f"lisp1 never held {NEW_RLOC}")
        elapsed = (time.monotonic() - started) * 1000
        smrs = rig.show("lisp1", "statistics").get("in.smr", 0)
        if subscribe and smrs:
            raise SystemExit("an SMR reached lisp1: not a pub-sub measurement")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for label, subscribe, goal in (("pub-sub", True, 100.0), ("SMR", False, 1000.0)):
        times = [converge(subscribe) for _ in range(args.runs)]
        print(
            f"{label:8} median {statistics.median(times):6.1f} ms, "
            f"min {min(times):6.1f}, max {max(times):6.1f} ({args.runs} runs; goal < {goal:.0f} ms)"
        )


if __name__ == "__main__":
    main()
