"""Network namespaces and veth links for labs and root tests, through iproute2's `ip`."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence


class NetnsError(RuntimeError):
    """An `ip` command failed; the message carries its stderr."""


def ip(*args: str, namespace: str | None = None) -> str:
    command = ["ip", *(["-n", namespace] if namespace else []), *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        raise NetnsError(f"{' '.join(command)}: {result.stderr.strip()}")
    return result.stdout


def create(name: str) -> None:
    ip("netns", "add", name)
    ip("link", "set", "lo", "up", namespace=name)


def delete(name: str) -> None:
    """Delete a namespace (and every interface in it); no error when it is gone already."""
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False, timeout=30)


def exists(name: str) -> bool:
    return name in {line.split()[0] for line in ip("netns", "list").splitlines() if line}


def veth(ns_a: str, if_a: str, cidr_a: str, ns_b: str, if_b: str, cidr_b: str) -> None:
    """A veth pair from namespace a to namespace b, addressed and up."""
    ip("link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
    for namespace, interface, cidr in ((ns_a, if_a, cidr_a), (ns_b, if_b, cidr_b)):
        add_address(namespace, interface, cidr)
        ip("link", "set", interface, "up", namespace=namespace)


def add_address(namespace: str, interface: str, cidr: str) -> None:
    """An address; IPv6 ones skip duplicate address detection, so they work at once."""
    extra = ("nodad",) if ":" in cidr else ()
    ip("addr", "add", cidr, "dev", interface, *extra, namespace=namespace)


def add_route(namespace: str, prefix: str, via: str) -> None:
    ip("route", "add", prefix, "via", via, namespace=namespace)


def sysctl(namespace: str, key: str, value: str) -> None:
    run_in(namespace, ["sysctl", "-q", "-w", f"{key}={value}"], check=True)


def run_in(
    namespace: str, argv: Sequence[str], *, check: bool = False, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["ip", "netns", "exec", namespace, *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise NetnsError(f"{namespace}: {' '.join(argv)}: {result.stderr.strip()}")
    return result


def popen_in(namespace: str, argv: Sequence[str], log_path: str) -> subprocess.Popen[bytes]:
    """Start a long-running process inside `namespace`, its output appended to `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            ["ip", "netns", "exec", namespace, *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
