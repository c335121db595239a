"""A two-site lab where lisp2 is multihomed (shared by its lab test and the failover benchmark).

lisp2 has two uplinks to the Map-Server/router: RLOC 10.0.2.2 (priority 1) on
eth0 and RLOC 10.0.3.2 (priority 2) on eth1, with a second route home through
eth1 for when eth0 is down. lisp1 is the seed's, probing every `interval`
seconds and giving an RLOC up after `misses` misses. Run as root.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LISPSTACK = str(Path(sys.executable).parent / "lispstack")
SEED = Path(__file__).parents[2] / "src/lispstack/lab/topologies/seed"
PROBING = "\n[itr]\nrloc-probe-interval = {interval}\nrloc-probe-misses = {misses}\n"
LISP2 = """[node]
name = "lisp2"
roles = ["itr", "etr"]

[[database-mappings]]
eid-prefix = "192.168.2.0/24"
rlocs = [
    { address = "10.0.2.2", priority = 1, weight = 100 },
    { address = "10.0.3.2", priority = 2, weight = 100 },
]

[[map-servers]]                  # reached through either uplink
address = "10.0.1.254"
auth-key = "site-b-secret"

[[map-resolvers]]
address = "10.0.1.254"
"""
TOPOLOGY = """name = "mhome"
[[nodes]]
name = "lisp1"
config = "lisp1.toml"
addresses = ["lo 192.168.1.1/32"]
routes = ["10.0.2.0/24 via 10.0.1.254", "10.0.3.0/24 via 10.0.1.254"]

[[nodes]]
name = "mapserver"
config = "{map_server}"
forwarding = true

[[nodes]]
name = "lisp2"
config = "lisp2.toml"
addresses = ["lo 192.168.2.1/32"]
routes = ["10.0.1.0/24 via 10.0.2.254"]

[[links]]
a = "lisp1 eth0 10.0.1.1/24"
b = "mapserver to-lisp1 10.0.1.254/24"

[[links]]
a = "lisp2 eth0 10.0.2.2/24"
b = "mapserver to-lisp2 10.0.2.254/24"

[[links]]
a = "lisp2 eth1 10.0.3.2/24"
b = "mapserver to-lisp2b 10.0.3.254/24"
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=120, check=False
    )


def lab_exec(node: str, *command: str) -> subprocess.CompletedProcess[str]:
    return run("lab", "exec", "--name", "mhome", node, "--", *command)


def ping(count: int = 1) -> bool:
    ping = lab_exec(
        "lisp1", "ping", "-c", str(count), "-W", "1", "-I", "192.168.1.1", "192.168.2.1"
    )
    return ping.returncode == 0


@contextmanager
def multihomed_lab(
    directory: Path, *, interval: int, misses: int, engine: str = "tun"
) -> Iterator[str]:
    """The lab up (its name), its xTRs on data-plane `engine`, always taken down."""
    lisp1 = (SEED / "lisp1.toml").read_text() + PROBING.format(interval=interval, misses=misses)
    (directory / "lisp1.toml").write_text(lisp1)
    (directory / "lisp2.toml").write_text(LISP2)
    (directory / "mhome.toml").write_text(TOPOLOGY.format(map_server=SEED / "mapserver.toml"))
    up = run("lab", "up", str(directory / "mhome.toml"), "--engine", engine)
    if up.returncode != 0:
        raise RuntimeError(up.stderr)
    try:
        route = lab_exec(
            "lisp2", "ip", "route", "add", "10.0.1.0/24", "via", "10.0.3.254", "metric", "100"
        )
        if route.returncode != 0:
            raise RuntimeError(route.stderr)
        yield "mhome"
    finally:
        run("lab", "down", "--name", "mhome")
