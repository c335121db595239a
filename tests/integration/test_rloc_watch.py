"""The watch of a node's own addresses (io/rloc_watch.py, io/netlink.node_addresses) in a
namespace of its own (root): a link set down, a carrier lost (the veth peer down), an
address removed and one added are each reported at once, as the whole usable set and the
whole set held (an address on a link that is down is held, not usable)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.root
NAMESPACE = f"lsrw{os.getpid()}"
WATCHER = """
import asyncio, sys
from lispstack.io.rloc_watch import LocalRlocWatch

last = None

def report(usable, held):
    global last
    line = " | ".join(
        " ".join(sorted(str(a) for a in both if a.version == 4)) for both in (usable, held)
    )
    if line != last:  # IPv6 link-local addresses come and go beside: not this test's
        print(line, flush=True)
        last = line

async def main():
    watch = LocalRlocWatch(report, asyncio.get_running_loop())
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    watch.stop()

asyncio.run(main())
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", "-n", NAMESPACE, *args], check=True, capture_output=True)


@pytest.fixture
def namespace() -> Iterator[str]:
    subprocess.run(["ip", "netns", "add", NAMESPACE], check=True)
    try:
        ip("link", "add", "up0", "type", "veth", "peer", "name", "far0")
        ip("addr", "add", "10.9.0.1/24", "dev", "up0")
        for device in ("lo", "up0", "far0"):
            ip("link", "set", device, "up")
        yield NAMESPACE
    finally:
        subprocess.run(["ip", "netns", "del", NAMESPACE], check=False)


def test_the_watch_reports_each_change_of_the_usable_addresses(namespace: str) -> None:
    watcher = subprocess.Popen(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", WATCHER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    assert watcher.stdin is not None and watcher.stdout is not None

    def next_report() -> tuple[set[str], set[str]]:
        """The watcher's next report, (usable, held) (none within 10 s: a failure, never a
        hang)."""
        assert watcher.stdout is not None
        ready, _, _ = select.select([watcher.stdout], [], [], 10)
        assert ready, "no report"
        usable, held = watcher.stdout.readline().split("|")
        return set(usable.split()), set(held.split())

    try:
        both = {"10.9.0.1", "127.0.0.1"}
        assert next_report() == (both, both)  # at start
        ip("link", "set", "far0", "down")  # up0 loses its carrier
        assert next_report() == ({"127.0.0.1"}, both)
        ip("link", "set", "far0", "up")
        assert next_report() == (both, both)
        ip("link", "set", "up0", "down")
        assert next_report() == ({"127.0.0.1"}, both)
        ip("link", "set", "up0", "up")
        assert next_report() == (both, both)
        ip("addr", "del", "10.9.0.1/24", "dev", "up0")
        assert next_report() == ({"127.0.0.1"}, {"127.0.0.1"})
        ip("addr", "add", "10.9.0.7/24", "dev", "up0")  # added while it runs
        assert next_report() == ({"10.9.0.7", "127.0.0.1"}, {"10.9.0.7", "127.0.0.1"})
    finally:
        watcher.stdin.write("\n")
        watcher.stdin.close()
        watcher.wait(timeout=10)
    assert watcher.returncode == 0
