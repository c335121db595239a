"""An ITR scanned by one EID host: its memory, its route table, and how fast it stops.

sudo .venv/bin/python benchmarks/bench_itr_scan.py [--seconds S] [--rate PPS] [--limit N]

Two namespaces of its own: an ITR (EID 192.168.1.1, map-cache-limit N) and
a Map-Server whose site 100.64.0.0/10 accepts more-specifics and has nothing
registered, so every destination in it gets its own negative /32,
natively-forward: an InstallNativeRoute per destination, and, past the
limit, a RemoveNativeRoute per eviction. One process in the ITR's namespace
sends a UDP datagram from the EID to a new destination of 100.64.0.0/10 at
PPS for S seconds. Printed: the ITR's RSS every 10 s and after the scan,
the routes of its table, its counters, then how long SIGTERM takes to stop
it. The namespaces are always removed. Not a test: it prints numbers and
gates nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lispstack.lab import netns

LISPSTACK = str(Path(sys.executable).parent / "lispstack")
PREFIX = f"scan{os.getpid() % 10000}"
XTR = """[node]
name = "xtr"
roles = ["itr"]
control-socket = "{directory}/xtr.sock"

[itr]
map-cache-limit = {limit}

[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{{ address = "10.0.1.1", priority = 1, weight = 100 }}]

[[map-resolvers]]
address = "10.0.1.254"
"""
MAP_SERVER = """[node]
name = "mapserver"
roles = ["map-server", "map-resolver"]
control-socket = "{directory}/mapserver.sock"

[[sites]]
name = "scanned"
auth-key = "secret"
eid-prefixes = ["100.64.0.0/10"]
accept-more-specifics = true
"""
SCANNER = """
import socket, sys, time
seconds, rate = float(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.168.1.1", 0))
sent = failed = 0
start = time.monotonic()
while (now := time.monotonic()) < start + seconds:
    if sent > (now - start) * rate:
        time.sleep(0.001)
        continue
    host = 0x64400000 + 1 + sent % 0x3FFFFE
    try:
        s.sendto(b"scan", (socket.inet_ntoa(host.to_bytes(4, "big")), 9))
    except OSError:
        failed += 1
    sent += 1
print(sent, failed)
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def show(directory: Path, topic: str) -> object:
    socket_path = directory / "xtr.sock"
    result = subprocess.run(
        [LISPSTACK, "show", "--socket", str(socket_path), topic, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def table_routes() -> int:
    out = netns.run_in(f"{PREFIX}-xtr", ["ip", "route", "show", "table", "4341"]).stdout
    return len(out.splitlines())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=17_000.0)
    parser.add_argument("--limit", type=int, default=20_000)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_itr_scan: needs root (network namespaces, TUN)", file=sys.stderr)
        return 2
    directory = Path(tempfile.mkdtemp(prefix="bench-itr-scan-"))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        netns.create(f"{PREFIX}-xtr")
        netns.create(f"{PREFIX}-ms")
        netns.veth(f"{PREFIX}-xtr", "eth0", "10.0.1.1/24", f"{PREFIX}-ms", "eth0", "10.0.1.254/24")
        netns.add_address(f"{PREFIX}-xtr", "lo", "192.168.1.1/32")
        (directory / "xtr.toml").write_text(XTR.format(directory=directory, limit=args.limit))
        (directory / "ms.toml").write_text(MAP_SERVER.format(directory=directory))
        for name, namespace in (("ms", f"{PREFIX}-ms"), ("xtr", f"{PREFIX}-xtr")):
            processes[name] = netns.popen_in(
                namespace, [LISPSTACK, "run", str(directory / f"{name}.toml")],
                str(directory / f"{name}.log"),
            )  # fmt: skip
        while not (directory / "xtr.sock").exists() or not (directory / "mapserver.sock").exists():
            time.sleep(0.1)
        pid = processes["xtr"].pid
        print(f"ITR RSS at start: {rss_mb(pid):.1f} MB")
        scanner = subprocess.Popen(
            ["ip", "netns", "exec", f"{PREFIX}-xtr", sys.executable, "-c", SCANNER,
             str(args.seconds), str(args.rate)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        start = time.monotonic()
        while scanner.poll() is None:
            time.sleep(min(10.0, max(0.1, start + args.seconds - time.monotonic())))
            print(f"  t={time.monotonic() - start:5.1f} s  RSS {rss_mb(pid):6.1f} MB"
                  f"  table routes {table_routes()}")  # fmt: skip
        sent, failed = scanner.communicate()[0].split()
        print(f"scan: {sent} datagrams to distinct destinations ({failed} refused by the kernel)")
        time.sleep(5)
        print(f"5 s after the scan: RSS {rss_mb(pid):.1f} MB, table routes {table_routes()}")
        statistics = show(directory, "statistics")
        assert isinstance(statistics, dict)
        for name in ("out.map-request", "reply.negative", "routes.applied", "routes.failed"):
            print(f"  {name} = {statistics.get(name, 0)}")
        began = time.monotonic()
        processes["xtr"].send_signal(signal.SIGTERM)
        code = processes["xtr"].wait(timeout=600)
        print(f"SIGTERM to exit: {time.monotonic() - began:.2f} s (exit status {code})")
        print(f"routes left in table 4341: {table_routes()}")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        netns.delete(f"{PREFIX}-xtr")
        netns.delete(f"{PREFIX}-ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
