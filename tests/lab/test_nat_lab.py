"""NAT traversal through a real Linux NAT (nftables masquerade in a namespace).

The built-in nat topology with a second site behind the same NAT:

    192.168.10.1 [natted]  10.1.0.2 --+
                                      [nat] 10.0.3.3 -- [mapserver] -- [rtr] 10.0.4.4
    192.168.11.1 [natted2] 10.1.1.2 --+                  |
                                                         +-- [public] 10.0.2.2 192.168.20.1

One lab for the module (tests in order; the last renumbers the NAT).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lispstack.lab.demo_nat import wait_until

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
NAT = Path(__file__).parents[2] / "src/lispstack/lab/topologies/nat"
WAIT_S = 40.0
NATTED2 = """[node]
name = "natted2"
roles = ["itr", "etr"]

[[database-mappings]]
eid-prefix = "192.168.11.0/24"
rlocs = [{ address = "10.1.1.2" }]

[[map-servers]]
address = "10.0.3.254"
auth-key = "natted2-secret"
register-interval = 5

[[map-resolvers]]
address = "10.0.3.254"
"""
SITE2 = """
[[sites]]
name = "natted2"
auth-key = "natted2-secret"
eid-prefixes = ["192.168.11.0/24"]
rtrs = ["10.0.4.4"]
"""
TOPOLOGY = """name = "natlab"
[[nodes]]
name = "natted"
config = "natted.toml"
addresses = ["lo 192.168.10.1/32"]
routes = ["10.0.0.0/16 via 10.1.0.1"]

[[nodes]]
name = "natted2"
config = "natted2.toml"
addresses = ["lo 192.168.11.1/32"]
routes = ["10.0.0.0/16 via 10.1.1.1"]

[[nodes]]
name = "nat"
masquerade = "out0"
routes = ["10.0.0.0/16 via 10.0.3.254"]

[[nodes]]
name = "mapserver"
config = "mapserver.toml"
forwarding = true

[[nodes]]
name = "rtr"
config = "{nat}/rtr.toml"
routes = ["10.0.0.0/16 via 10.0.4.254"]

[[nodes]]
name = "public"
config = "{nat}/public.toml"
addresses = ["lo 192.168.20.1/32"]
routes = ["10.0.0.0/16 via 10.0.2.254"]

[[links]]
a = "natted eth0 10.1.0.2/24"
b = "nat in0 10.1.0.1/24"

[[links]]
a = "natted2 eth0 10.1.1.2/24"
b = "nat in1 10.1.1.1/24"

[[links]]
a = "nat out0 10.0.3.3/24"
b = "mapserver to-nat 10.0.3.254/24"

[[links]]
a = "rtr eth0 10.0.4.4/24"
b = "mapserver to-rtr 10.0.4.254/24"

[[links]]
a = "public eth0 10.0.2.2/24"
b = "mapserver to-public 10.0.2.254/24"
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"nat{os.getpid()}"
    where = tmp_path_factory.mktemp("natlab")
    natted = (
        (NAT / "natted.toml").read_text().replace("register-interval = 10", "register-interval = 5")
    )
    (where / "natted.toml").write_text(natted)
    (where / "natted2.toml").write_text(NATTED2)
    (where / "mapserver.toml").write_text((NAT / "mapserver.toml").read_text() + SITE2)
    (where / "natlab.toml").write_text(TOPOLOGY.format(nat=NAT))
    up = _run("lab", "up", str(where / "natlab.toml"), "--name", name)
    assert up.returncode == 0, up.stderr
    try:
        yield name
    finally:
        _run("lab", "down", "--name", name)


def _show(lab: str, node: str, topic: str) -> Any:
    result = _run("lab", "show", "--name", lab, node, topic, "--json")
    return json.loads(result.stdout) if result.returncode == 0 else None


def _wait(probe: Callable[[], bool]) -> bool:
    return wait_until(probe, WAIT_S)


def _ping(lab: str, node: str, source: str, destination: str, count: int = 2) -> bool:
    argv = ["ping", "-c", str(count), "-W", "1", "-I", source, destination]
    return _run("lab", "exec", "--name", lab, node, "--", *argv).returncode == 0


def _nat_exec(lab: str, *argv: str) -> None:
    result = _run("lab", "exec", "--name", lab, "nat", "--", *argv)
    assert result.returncode == 0, result.stderr


def _translated(lab: str) -> dict[str, str]:
    """The RTR's NAT table: EID prefix -> translated address:port."""
    table = _show(lab, "rtr", "nat") or []
    return {prefix: e["translated"] for e in table for prefix in e["eid_prefixes"]}


def _forwarded(lab: str) -> int:
    return int((_show(lab, "rtr", "statistics") or {}).get("rtr.map-register.forwarded", 0))


def test_two_sites_behind_one_nat_reach_the_public_site_and_each_other(lab: str) -> None:
    assert _wait(lambda: len(_translated(lab)) == 2)
    translated = _translated(lab)
    # One public address, one NAT port each.
    assert {t.split(":")[0] for t in translated.values()} == {"10.0.3.3"}
    assert len(set(translated.values())) == 2
    registrations = {r["eid"]: r for r in _show(lab, "mapserver", "registrations")}
    for prefix in ("192.168.10.0/24", "192.168.11.0/24"):
        assert registrations[prefix]["registered_by"] == "10.0.4.4"
    assert _ping(lab, "natted", "192.168.10.1", "192.168.20.1")
    assert _ping(lab, "public", "192.168.20.1", "192.168.10.1")
    assert _ping(lab, "natted2", "192.168.11.1", "192.168.20.1")
    assert _ping(lab, "public", "192.168.20.1", "192.168.11.1")
    assert _ping(lab, "natted", "192.168.10.1", "192.168.11.1")  # NAT to NAT, via the RTR
    statistics = _show(lab, "rtr", "statistics")
    assert statistics["rtr.to-nat"] >= 6 and statistics["rtr.re-encapsulated"] >= 4


def test_an_expired_nat_binding_is_renewed_by_the_next_registration(lab: str) -> None:
    # Bindings now die 1 s after their last packet; natted registers every ~5 s.
    for key in ("nf_conntrack_udp_timeout", "nf_conntrack_udp_timeout_stream"):
        _nat_exec(lab, "sysctl", "-q", "-w", f"net.netfilter.{key}=1")

    def statistics() -> tuple[int, int]:
        """(packets the RTR sent towards natted, packets natted decapsulated)"""
        rtr, natted = _show(lab, "rtr", "statistics"), _show(lab, "natted", "statistics")
        return rtr.get("rtr.to-nat", 0), natted.get("decap.packets", 0)

    def lost_at_the_nat() -> bool:
        time.sleep(1.5)  # idle: the binding dies unless a registration just renewed it
        before = statistics()
        failed = not _ping(lab, "public", "192.168.20.1", "192.168.10.1", 1)
        after = statistics()
        return failed and after[0] > before[0] and after[1] == before[1]

    try:
        # The RTR sent the ping through the NAT, which no longer let it in.
        assert _wait(lost_at_the_nat)
        delivered = statistics()[1]
        # The next Map-Register through the NAT opens the binding again; pings get in.
        assert _wait(lambda: _ping(lab, "public", "192.168.20.1", "192.168.10.1", 1))
        assert statistics()[1] > delivered
    finally:
        for key, default in (("udp_timeout", 30), ("udp_timeout_stream", 120)):
            _nat_exec(lab, "sysctl", "-q", "-w", f"net.netfilter.nf_conntrack_{key}={default}")


def test_a_new_public_address_is_learned_and_followed(lab: str) -> None:
    _nat_exec(lab, "ip", "addr", "del", "10.0.3.3/24", "dev", "out0")
    _nat_exec(lab, "ip", "addr", "add", "10.0.3.5/24", "dev", "out0")
    _nat_exec(lab, "ip", "route", "replace", "10.0.0.0/16", "via", "10.0.3.254")

    def moved() -> bool:
        views = _show(lab, "natted", "nat") or []
        translated = _translated(lab).get("192.168.10.0/24", "")
        return (
            bool(views)
            and views[0]["global_rloc"] == "10.0.3.5"
            and (translated.startswith("10.0.3.5:"))
        )

    assert _wait(moved)
    assert _ping(lab, "public", "192.168.20.1", "192.168.10.1")
    assert _ping(lab, "natted", "192.168.10.1", "192.168.20.1")
