"""Drawing a big capture as a ladder: `lispstack decode FILE --ladder OUT.svg` on 10,000 messages.

.venv/bin/python benchmarks/bench_ladder.py [--messages N] [--repeat N]

The capture is the seed story of the ladder tests (lispers.net's Map-Requests
and Map-Replies replayed between the seed lab's addresses, data bursts, routed
copies) over and over, written with the project's pcap writer. Prints the
wall-clock seconds of the whole command (read, decode, lay out, write), best
of --repeat runs, and the SVG's size.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.ladder_captures import seed_story
from lispstack.capture import write_pcap
from lispstack.cli.main import main


def capture(messages: int) -> list[tuple[bytes, float]]:
    packets: list[tuple[bytes, float]] = []
    start = 1_700_000_000.0
    while len(packets) < messages:
        story = seed_story(start)
        packets += story
        start = story[-1][1] + 2.0  # a pause: the next story's data is a new burst
    return packets[:messages]


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        pcap, svg = Path(directory) / "big.pcap", Path(directory) / "big.svg"
        write_pcap(pcap, capture(args.messages))
        times = []
        for _ in range(args.repeat):
            printed = io.StringIO()
            begin = time.perf_counter()
            with contextlib.redirect_stdout(printed):
                main(["decode", str(pcap), "--ladder", str(svg), "--topology", "seed"])
            times.append(time.perf_counter() - begin)
        print(printed.getvalue().strip())
        print(
            f"{args.messages} LISP frames drawn in {min(times):.2f} s (best of {args.repeat}); "
            f"SVG {svg.stat().st_size / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main_()
