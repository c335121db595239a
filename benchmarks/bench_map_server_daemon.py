"""A real Map-Server daemon over loopback: Map-Register rate and RSS at scale.

    .venv/bin/python benchmarks/bench_map_server_daemon.py [--prefixes N] [--records R] [--window W]

Starts `lispstack run` (Map-Server + Map-Resolver, site 10.0.0.0/8 accepting
more-specifics) on 127.0.0.2, pinned to CPU 0 when taskset exists, and
registers N /30 prefixes from this process (pinned to CPU 1): authenticated
Map-Registers (HMAC-SHA-256) of R records each with want-map-notify, at most
W unanswered at a time. Prints Map-Registers and records accepted per second
(counted by their Map-Notifies), then does it again (the refresh of every
registration), and prints the daemon's resident set size after each pass,
then how long SIGTERM takes to end it.
Root is not needed. Not a test: it prints numbers and gates nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from ipaddress import IPv4Address
from pathlib import Path

from lispstack.lab.runner import lispstack_argv
from lispstack.wire import Locator, MappingRecord, MapRegister

ADDRESS = "127.0.0.2"
KEY = "bench-key"
CONFIG = f"""
[node]
name = "bench-ms"
roles = ["map-server", "map-resolver"]
listen = ["{ADDRESS}"]
control-socket = "{{socket}}"
log-level = "warning"  # one INFO line per new registration would dominate

[[sites]]
name = "big"
auth-key = "{KEY}"
eid-prefixes = ["10.0.0.0/8"]
accept-more-specifics = true
"""


def _messages(prefixes: int, per_message: int) -> list[bytes]:
    locator = Locator(address=IPv4Address("127.0.0.1"))
    nonce = random.getrandbits(40) << 20  # fresh per pass: a repeated nonce is a replay
    messages = []
    for start in range(0, prefixes, per_message):
        records = tuple(
            MappingRecord(eid=IPv4Address(0x0A000000 + i * 4), eid_mask_len=30, locators=(locator,))
            for i in range(start, min(start + per_message, prefixes))
        )
        register = MapRegister(
            nonce=nonce + start, records=records, proxy_reply=True, want_map_notify=True
        )
        messages.append(register.signed(KEY.encode())[1])
    return messages


def _register(messages: list[bytes], window: int) -> tuple[int, float]:
    """Send with at most `window` unanswered; Map-Notifies received, seconds taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(1.0)
    answered = unanswered = 0
    started = time.perf_counter()
    for message in messages:
        sock.sendto(message, (ADDRESS, 4342))
        unanswered += 1
        while unanswered >= window:
            try:
                sock.recv(65535)
                answered += 1
            except TimeoutError:
                pass  # lost: the window moves on
            unanswered -= 1
    while unanswered:
        try:
            sock.recv(65535)
            answered += 1
        except TimeoutError:
            pass
        unanswered -= 1
    elapsed = time.perf_counter() - started
    sock.close()
    return answered, elapsed


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pinned(cpu: int, argv: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu), *argv] if taskset else argv


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefixes", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=100, help="records per Map-Register")
    parser.add_argument("--window", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder, "ms.toml")
        config.write_text(CONFIG.format(socket=Path(folder, "ms.sock")))
        log = Path(folder, "ms.log")
        with log.open("wb") as log_file:
            daemon = subprocess.Popen(
                _pinned(0, [*lispstack_argv(), "run", str(config)]),
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        try:
            time.sleep(2.0)
            if daemon.poll() is not None:
                sys.exit(f"the daemon did not start: {log.read_text()}")
            if shutil.which("taskset"):
                os.sched_setaffinity(0, {1})
            print(f"daemon RSS at start: {_rss_mib(daemon.pid):,.0f} MiB")
            for label in ("register", "refresh"):
                messages = _messages(args.prefixes, args.records)
                answered, elapsed = _register(messages, args.window)
                records = min(answered * args.records, args.prefixes)
                rss = _rss_mib(daemon.pid)
                print(
                    f"{label}: {answered:,}/{len(messages):,} Map-Registers answered in "
                    f"{elapsed:.1f} s: {answered / elapsed:,.0f} Map-Registers/s, "
                    f"{records / elapsed:,.0f} records/s; daemon RSS {rss:,.0f} MiB"
                )
        finally:
            began = time.monotonic()
            daemon.terminate()
            daemon.wait(60)
            print(f"SIGTERM to exit: {time.monotonic() - began:.2f} s")


if __name__ == "__main__":
    main()
