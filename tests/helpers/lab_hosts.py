"""What a lab host's namespace counted, read without starting Python in it."""

from __future__ import annotations

import subprocess


def read_in(namespace: str, path: str) -> str:
    """A file of `namespace` (NAME-HOST of a lab; ip netns exec cat)."""
    argv = ["ip", "netns", "exec", namespace, "cat", path]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout


def echo_requests(namespace: str, destination: str) -> int:
    """ICMP echo requests of `destination`'s family that `namespace` has received (its
    /proc/net/snmp or snmp6)."""
    if ":" in destination:
        text = read_in(namespace, "/proc/net/snmp6")
        counters = dict(line.split() for line in text.splitlines())
        return int(counters["Icmp6InEchos"])
    lines = [line.split() for line in read_in(namespace, "/proc/net/snmp").splitlines()]
    names, values = [line for line in lines if line[0] == "Icmp:"][:2]
    return int(values[names.index("InEchos")])
