"""Convergence with SMR in real labs: from a change to the first packet on the new RLOC.

sudo .venv/bin/python benchmarks/bench_convergence_lab.py [--moves N] [--changes N]

Host move (the built-in mobility lab): the host pings lisp2 at 100 packets/s;
it moves between xtra and xtrb (`ip link set` in its namespace, timed from
just before). xtrb learns and registers it, the Map-Server replaces xtra's
registration and tells xtra, which SMRs lisp2; measured: the first packet
lisp2 encapsulates to the new xTR's RLOC (tcpdump on the Map-Server's
link towards it, kernel timestamps), and pings lost per move.

RLOC change (the multihomed lab of tests/helpers/multihomed_lab.py): lisp1
pings lisp2 at 100 packets/s; lisp2's configuration swaps the priorities of
its RLOCs and `lispstack reload` applies it; lisp2 SMRs lisp1, whose
SMR-invoked Map-Request brings the new mapping; measured: the reload
command's start to the first packet lisp1 encapsulates to the new
priority-1 RLOC. Not a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.multihomed_lab import LISP2, LISPSTACK, multihomed_lab, ping, run
from lispstack.lab.runner import Lab

MOVE = (
    "ip link set {old} down && ip link set {new} up"
    " && ip route replace default via 192.168.1.1 dev {new}"
)


def first_packet(namespace: str, interface: str, rloc: str) -> subprocess.Popen[str]:
    """tcpdump for the first LISP data packet to `rloc`, started and listening."""
    dump = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            namespace,
            "tcpdump",
            "-i",
            interface,
            "-n",
            "-tt",
            "-c",
            "1",
            "-l",
            f"udp dst port 4341 and dst host {rloc}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert dump.stderr is not None
    while not dump.stderr.readline().startswith("listening on"):
        pass  # tcpdump is ready once it says so
    return dump


def seen_at(dump: subprocess.Popen[str]) -> float:
    out, _ = dump.communicate(timeout=30)
    return float(out.split()[0])


def stream(
    lab: str, node: str, source: str, destination: str, seconds: float
) -> subprocess.Popen[str]:
    command = ["ping", "-q", "-i", "0.01", "-W", "1", "-w", str(seconds), "-I", source, destination]
    return subprocess.Popen(
        [LISPSTACK, "lab", "exec", "--name", lab, node, "--", *command],
        stdout=subprocess.PIPE,
        text=True,
    )


def lost(pinger: subprocess.Popen[str]) -> int:
    out, _ = pinger.communicate(timeout=120)
    words = out.split("packets transmitted, ")
    sent = int(words[0].split()[-1])
    return sent - int(words[1].split()[0])


def host_moves(moves: int) -> None:
    name = "convmob"
    up = run("lab", "up", "mobility", "--name", name)
    if up.returncode != 0:
        raise SystemExit(up.stderr)
    times: list[float] = []
    try:
        host = f"{name}-host"
        subprocess.run(
            ["ip", "netns", "exec", host, "ip", "link", "set", "eth-b", "down"], check=True
        )
        pinger = stream(name, "host", "192.168.1.10", "192.168.2.1", moves * 2 + 3)
        time.sleep(2.0)
        links = [
            ("eth-a", "eth-b", "to-xtrb", "10.0.3.3"),
            ("eth-b", "eth-a", "to-xtra", "10.0.1.1"),
        ]
        for move in range(moves):
            old, new, towards, rloc = links[move % 2]
            dump = first_packet(f"{name}-mapserver", towards, rloc)
            start = time.time()
            subprocess.run(
                ["ip", "netns", "exec", host, "sh", "-c", MOVE.format(old=old, new=new)], check=True
            )
            times.append(seen_at(dump) - start)
            time.sleep(1.5)
        dropped = lost(pinger)
    finally:
        run("lab", "down", "--name", name)
    print(
        f"host move, {moves} moves, 100 pps: first packet on the new RLOC after "
        f"min {min(times) * 1000:.1f} / median {statistics.median(times) * 1000:.1f} / "
        f"max {max(times) * 1000:.1f} ms; {dropped} pings lost in all"
    )


def rloc_changes(changes: int) -> None:
    swapped = LISP2.replace("priority = 1", "priority = X").replace("priority = 2", "priority = 1")
    swapped = swapped.replace("priority = X", "priority = 2")
    times: list[float] = []
    with (
        tempfile.TemporaryDirectory() as directory,
        multihomed_lab(Path(directory), interval=0, misses=3) as lab,
    ):
        config = Path(directory) / "lisp2.toml"
        socket = str(Lab(lab).socket("lisp2"))
        deadline = time.monotonic() + 10
        while not ping() and time.monotonic() < deadline:
            time.sleep(0.2)
        pinger = stream(lab, "lisp1", "192.168.1.1", "192.168.2.1", changes * 2 + 3)
        time.sleep(1.0)
        for change in range(changes):
            text, rloc, towards = (
                (swapped, "10.0.3.2", "to-lisp2b")
                if change % 2 == 0
                else (LISP2, "10.0.2.2", "to-lisp2")
            )
            config.write_text(text)
            dump = first_packet(f"{lab}-mapserver", towards, rloc)
            start = time.time()
            subprocess.run(
                [LISPSTACK, "reload", "--socket", socket], check=True, capture_output=True
            )
            times.append(seen_at(dump) - start)
            time.sleep(1.5)
        dropped = lost(pinger)
    print(
        f"RLOC change (priorities swapped, reload), {changes} changes, 100 pps: first packet "
        f"on the new RLOC after min {min(times) * 1000:.1f} / median "
        f"{statistics.median(times) * 1000:.1f} / max {max(times) * 1000:.1f} ms "
        f"(from the reload command's start); {dropped} pings lost in all"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moves", type=int, default=10)
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args()
    host_moves(args.moves)
    rloc_changes(args.changes)


if __name__ == "__main__":
    main()
