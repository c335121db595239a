"""LISP-DDT daemons over loopback: resolution latency cold vs warm, and the DDT
Map-Resolver's throughput against the same Map-Server asked directly.

    .venv/bin/python benchmarks/bench_ddt_daemons.py [--rounds N] [--duration S] [--window W]

Four `lispstack run` daemons on 127.0.1.x: a root DDT node (10.0.0.0/8, delegating
10.0.0.0/9 to the child), a child DDT node (10.0.0.0/9, delegating 10.0.0.0/16 to
the Map-Server), a Map-Server + Map-Resolver holding 10.0.0.0/16 (registered here
with proxy-reply, so that the Map-Server answers the ITR itself), and a DDT
Map-Resolver whose root is the root node.

(a) Latency: N rounds of (start the DDT Map-Resolver, `lig` an EID through it: the
full walk root -> child -> Map-Server; `lig` another EID of 10.0.0.0/16: the cached
MS-REFERRAL, straight to the Map-Server; stop it). Prints the median and worst of
each, with `lig` straight to the Map-Server for reference.
(b) Throughput: `lispstack perf`'s engine for S seconds against the Map-Server's own
resolver, then against the DDT Map-Resolver (its cache warm), in the same run; prints
both rates and their ratio (goal: at least 0.8).
Root is not needed. Not a test: it prints numbers and gates nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from ipaddress import IPv4Address
from pathlib import Path

from lispstack.io.lig import lig
from lispstack.io.perf import eids_from, run_perf
from lispstack.lab.runner import lispstack_argv
from lispstack.wire import Locator, MappingRecord, MapRegister

ROOT, CHILD, MS, MR = (f"127.0.1.{i}" for i in (1, 2, 3, 4))
KEY = "bench-key"
HEAD = """[node]
name = "{name}"
roles = {roles}
listen = ["{address}"]
control-socket = "{folder}/{name}.sock"
log-level = "warning"
"""
CONFIGS = {
    "root": (ROOT, '["ddt-node"]', f"""
[[ddt-prefixes]]
eid-prefix = "10.0.0.0/8"
[[delegations]]
eid-prefix = "10.0.0.0/9"
children = [{{ address = "{CHILD}" }}]
"""),
    "child": (CHILD, '["ddt-node"]', f"""
[[ddt-prefixes]]
eid-prefix = "10.0.0.0/9"
[[delegations]]
eid-prefix = "10.0.0.0/16"
kind = "map-server"
children = [{{ address = "{MS}" }}]
"""),
    "ms": (MS, '["map-server", "map-resolver"]', f"""
[[sites]]
name = "bench"
auth-key = "{KEY}"
eid-prefixes = ["10.0.0.0/16"]
"""),
    "mr": (MR, '["map-resolver"]', f"""
[[ddt-roots]]
address = "{ROOT}"
"""),
}  # fmt: skip


def _start(folder: Path, name: str) -> subprocess.Popen[bytes]:
    address, roles, body = CONFIGS[name]
    config = folder / f"{name}.toml"
    head = HEAD.format(name=name, roles=roles, address=address, folder=folder)
    config.write_text(head + body)
    log = (folder / f"{name}.log").open("wb")
    daemon = subprocess.Popen(
        [*lispstack_argv(), "run", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 15
    while not (folder / f"{name}.sock").exists():
        if daemon.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"{name} did not start: {(folder / f'{name}.log').read_text()}")
        time.sleep(0.05)
    return daemon


def _stop(daemon: subprocess.Popen[bytes]) -> None:
    daemon.terminate()
    daemon.wait(30)


def _register() -> None:
    record = MappingRecord(
        eid=IPv4Address("10.0.0.0"),
        eid_mask_len=16,
        locators=(Locator(address=IPv4Address("127.0.0.1")),),
    )
    register = MapRegister(
        nonce=time.time_ns(), records=(record,), proxy_reply=True, want_map_notify=True
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.sendto(register.signed(KEY.encode())[1], (MS, 4342))
        sock.recv(65535)  # the Map-Notify


def _rtt(eid: str, resolver: str) -> float:
    answer = lig(IPv4Address(eid), IPv4Address(resolver), count=1, timeout=3.0)
    if answer is None:
        sys.exit(f"no answer for {eid} from {resolver}")
    return answer.rtt_ms


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _summary(label: str, samples: list[float]) -> None:
    print(
        f"{label:34} median {statistics.median(samples):6.2f} ms   "
        f"worst {max(samples):6.2f} ms   ({len(samples)} samples)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        daemons = [_start(folder, node) for node in ("root", "child", "ms")]
        try:
            _register()
            cold, warm, direct = [], [], []
            for round_ in range(args.rounds):
                resolver = _start(folder, "mr")
                try:
                    cold.append(_rtt(f"10.0.{round_}.1", MR))
                    warm.append(_rtt(f"10.0.{round_}.2", MR))
                    direct.append(_rtt(f"10.0.{round_}.3", MS))
                finally:
                    _stop(resolver)
            print("(a) resolution latency (lig, loopback, proxy-reply by the Map-Server)")
            _summary("cold: root -> child -> Map-Server", cold)
            _summary("warm: cached MS-REFERRAL", warm)
            _summary("straight to the Map-Server", direct)

            print(f"(b) throughput, window {args.window}, {args.duration:g} s each")
            eids = eids_from("10.0.0.0/16")
            resolver = _start(folder, "mr")
            daemons.append(resolver)
            _rtt("10.0.0.1", MR)  # warms the referral cache
            rates = {}
            named = {"ms": daemons[2], "mr": resolver}
            for label, address in (("straight to the Map-Server", MS), ("DDT Map-Resolver", MR)):
                before = {name: _cpu_seconds(d.pid) for name, d in named.items()}
                result = run_perf(
                    IPv4Address(address), eids, duration=args.duration, window=args.window
                )
                busy = ", ".join(
                    f"{name} {(_cpu_seconds(d.pid) - before[name]) / result.elapsed:.0%}"
                    for name, d in named.items()
                )
                rates[label] = result.replies_per_second
                print(
                    f"{label:34} {result.replies_per_second:8,.0f} replies/s   "
                    f"p50 {result.percentile(0.5):5.2f} ms   p99 {result.percentile(0.99):5.2f} ms"
                    f"   lost {result.lost}   CPU: {busy}"
                )
            ratio = rates["DDT Map-Resolver"] / rates["straight to the Map-Server"]
            print(f"DDT / direct: {ratio:.2f}x (goal >= 0.8x)")
        finally:
            for daemon in daemons:
                _stop(daemon)


if __name__ == "__main__":
    main()
