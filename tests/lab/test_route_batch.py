"""Route batches over one rtnetlink socket, checked against `ip route` in a namespace."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from lispstack.lab import netns

pytestmark = pytest.mark.root
TABLE = 4341
# Runs inside the namespace: the socket belongs to the namespace it was opened in.
SCRIPT = """
import socket, sys
from lispstack.io.route_batch import RouteChange, RouteSocket
lo = socket.if_nametoindex("lo")
with RouteSocket() as sock:
    refused = sock.apply(
        [RouteChange("0.0.0.0/0", "dev", 4341, 250, lo), RouteChange("::/0", "dev", 4341, 250, lo)]
        + [RouteChange(f"100.64.{i // 256}.{i % 256}/32", "throw", 4341, 250) for i in range(3000)]
        + [RouteChange("0.0.0.0/0", "throw", 4341, 250), RouteChange("10.0.0.0/8", "absent", 4341)]
        + [RouteChange("2001:db8::/32", "throw", 4341, 250)]
        + [RouteChange("10.9.0.0/16", "dev", 4341, 250, 99999)]
    )
    print([(change.prefix, error.errno) for change, error in refused])
    if sys.argv[1] == "flush":
        routes = sock.routes_of(socket.AF_INET, 4341) + sock.routes_of(socket.AF_INET6, 4341)
        print(len(routes), sorted(str(r) for r in routes if "100.64" not in str(r)))
        print(sock.delete(routes))
"""


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"rb{os.getpid() % 10000}"
    netns.create(name)
    try:
        yield name
    finally:
        netns.delete(name)


def _run(namespace: str, mode: str) -> list[str]:
    result = netns.run_in(namespace, [sys.executable, "-c", SCRIPT, mode], check=True)
    return result.stdout.splitlines()


def _table(namespace: str, family: str) -> str:
    return netns.ip(family, "route", "show", "table", str(TABLE), namespace=namespace)


def test_a_batch_replaces_adds_removes_and_names_what_the_kernel_refused(namespace: str) -> None:
    (refused,) = _run(namespace, "apply")
    assert refused == "[('10.9.0.0/16', 19)]"  # ENODEV; removing what is absent is fine
    ipv4 = _table(namespace, "-4").splitlines()
    assert len(ipv4) == 3001 and "throw default proto 250 " in ipv4
    assert "throw 100.64.11.183 proto 250 " in ipv4
    ipv6 = _table(namespace, "-6")
    assert "throw 2001:db8::/32" in ipv6 and "default dev lo proto 250" in ipv6


def test_the_routes_of_a_table_are_found_and_removed(namespace: str) -> None:
    _, found, failed = _run(namespace, "flush")
    assert found == "3003 ['default', 'throw 2001:db8::/32', 'throw default']"
    assert failed == "[]"
    assert _table(namespace, "-4") == _table(namespace, "-6") == ""
