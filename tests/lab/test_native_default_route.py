"""A natively-forward 0.0.0.0/0 takes the place of the ITR's default route only while cached.

    192.168.1.1 [xtr] 10.0.1.1 - 10.0.1.254 [mapserver]

The Map-Server has no IPv4 site, so it answers any IPv4 EID with a negative
Map-Reply for 0.0.0.0/0, natively-forward. Its TTL for that answer is the
constant map_resolver.NO_SITE_TTL (15 minutes, no configuration key): this
test runs the real Map-Server with that constant set to 1 minute, the
shortest a Map-Reply can carry, and the real xTR with a TTL minute of
10 seconds (xtr_cache.TTL_UNIT_S), so the entry expires after 10 s. On both
data-plane engines (the kernel's map-cache must let the natively-forward entry's
packets through to the main table, and take the base route back).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lispstack.lab import netns

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
XTR = """[node]
name = "xtr"
roles = ["itr"]
control-socket = "{directory}/xtr.sock"

[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{{ address = "10.0.1.1", priority = 1, weight = 100 }}]

[[map-resolvers]]
address = "10.0.1.254"

[data-plane]
engine = "{engine}"
"""
MAP_SERVER = """[node]
name = "mapserver"
roles = ["map-server", "map-resolver"]
control-socket = "{directory}/mapserver.sock"

[[sites]]
name = "v6-only"
auth-key = "secret"
eid-prefixes = ["2001:db8:1::/48"]
"""
RUN = "from lispstack.cli.main import main; sys.exit(main(['run', sys.argv[1]]))"
SHORT_TTL_MAP_SERVER = (
    f"import sys; import lispstack.core.map_resolver as r; r.NO_SITE_TTL = 1; {RUN}"
)
SHORT_MINUTE_XTR = f"import sys; import lispstack.core.xtr_cache as c; c.TTL_UNIT_S = 10.0; {RUN}"


@dataclass
class Lab:
    prefix: str
    directory: Path
    processes: dict[str, subprocess.Popen[bytes]]

    def ns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def show(self, node: str, topic: str) -> Any:
        command = [LISPSTACK, "show", "--socket", str(self.directory / f"{node}.sock"), topic]
        result = subprocess.run(
            [*command, "--json"], capture_output=True, text=True, timeout=30, check=True
        )
        return json.loads(result.stdout)

    def table(self) -> str:
        return netns.run_in(self.ns("xtr"), ["ip", "route", "show", "table", "4341"]).stdout

    def ping_from_eid(self) -> None:
        netns.run_in(
            self.ns("xtr"), ["ping", "-n", "-c", "1", "-W", "1", "-I", "192.168.1.1", "4.2.2.2"]
        )

    def requests(self) -> int:
        return int(self.show("xtr", "statistics").get("out.map-request", 0))


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


@pytest.fixture(params=["tun", "ebpf"])
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(f"nd{os.getpid() % 10000}", tmp_path, {})
    try:
        netns.create(lab.ns("xtr"))
        netns.create(lab.ns("mapserver"))
        netns.veth(
            lab.ns("xtr"), "eth0", "10.0.1.1/24", lab.ns("mapserver"), "to-xtr", "10.0.1.254/24"
        )
        netns.add_address(lab.ns("xtr"), "lo", "192.168.1.1/32")
        (tmp_path / "xtr.toml").write_text(XTR.format(directory=tmp_path, engine=request.param))
        (tmp_path / "mapserver.toml").write_text(MAP_SERVER.format(directory=tmp_path))
        lab.processes["mapserver"] = netns.popen_in(
            lab.ns("mapserver"),
            [sys.executable, "-c", SHORT_TTL_MAP_SERVER, str(tmp_path / "mapserver.toml")],
            str(tmp_path / "mapserver.log"),
        )
        lab.processes["xtr"] = netns.popen_in(
            lab.ns("xtr"),
            [sys.executable, "-c", SHORT_MINUTE_XTR, str(tmp_path / "xtr.toml")],
            str(tmp_path / "xtr.log"),
        )
        assert _wait(lambda: all((tmp_path / f"{n}.sock").exists() for n in lab.processes), 20)
        yield lab
    finally:
        for process in lab.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in lab.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        netns.delete(lab.ns("xtr"))
        netns.delete(lab.ns("mapserver"))


def test_the_default_route_to_the_tun_comes_back_when_the_negative_entry_expires(
    lab: Lab,
) -> None:
    assert "default dev lisp-xtr" in lab.table()
    lab.ping_from_eid()
    assert _wait(lambda: "throw default" in lab.table(), 10), lab.table()
    (entry,) = lab.show("xtr", "map-cache")
    assert (entry["eid"], entry["action"]) == ("0.0.0.0/0", "natively-forward")
    assert lab.requests() == 1
    lab.ping_from_eid()  # routed natively by the main table now: no second request
    assert lab.requests() == 1

    # After the TTL (1 minute of 10 s) the entry expires and the base route is back.
    assert _wait(lambda: "default dev lisp-xtr" in lab.table(), 30), lab.table()
    assert "throw" not in lab.table()
    assert lab.show("xtr", "map-cache") == []
    lab.ping_from_eid()
    assert _wait(lambda: lab.requests() == 2, 10), lab.show("xtr", "statistics")
