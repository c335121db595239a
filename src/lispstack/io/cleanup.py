"""What a killed node leaves behind, found and removed (`lispstack cleanup`).

A node stopped by a signal it can handle removes everything itself. One
that was killed (SIGKILL, a crash of the interpreter) leaves its policy
rules and the routes of its table (the kernel removes only the routes that
led into its TUN device, with the device), its control socket file and its
lock files (io/instance_lock.py; ones nobody holds).
Nothing is removed while a node still uses it: a control socket that
answers belongs to a live node, and a route of our table that leads out of
an interface means a running xTR or PITR routes through it.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lispstack.config.model import NodeConfig, NodeRole
from lispstack.io.control_socket import DEFAULT_DIRECTORY, listening, remove_stale
from lispstack.io.ebpf_engine import detach_stale
from lispstack.io.instance_lock import lock_path, name_lock_path, remove_stale_lock
from lispstack.io.netlink import PolicyRouting

_ROUTING_ROLES = (NodeRole.ITR, NodeRole.PITR)
_TUN_ROLES = (NodeRole.ITR, NodeRole.ETR, NodeRole.PITR)


class NodeRunning(Exception):
    """What was asked for is still in use by a running node; nothing was removed."""


def cleanup_node(config: NodeConfig) -> list[str]:
    """Remove what the node `config` describes left; what was removed, one line each."""
    path = Path(config.node.control_socket)
    if listening(path):
        raise NodeRunning(f"node {config.name} is running (its control socket {path} answers)")
    # [[instances]]: rules, tables and TUNs on any data-plane role (a PETR's too)
    routing = bool(config.instances) or any(config.has_role(role) for role in _ROUTING_ROLES)
    if routing:
        _check_table_unused()
    removed = [f"stale control socket {path}"] if remove_stale(path) else []
    for lock in (lock_path(path), name_lock_path(config.name)):
        removed += [f"stale lock {lock}"] if remove_stale_lock(lock) else []
    _remove_if_empty(name_lock_path(config.name).parent)
    if routing:
        removed += PolicyRouting().cleanup_stale()
    if config.instances or any(config.has_role(role) for role in _TUN_ROLES):
        for device in (config.tun.device, *(i.device for i in config.instances)):
            removed += _remove_link(device)
        removed += detach_stale()
    return removed


def cleanup_all(directory: Path = DEFAULT_DIRECTORY) -> list[str]:
    """Every stale control socket and lock in `directory` (name locks in its
    names/ directory), and our rules and routes unless a
    running node routes through them."""
    _check_table_unused()
    sockets = sorted(directory.glob("*.sock")) if directory.is_dir() else []
    removed = [f"stale control socket {path}" for path in sockets if remove_stale(path)]
    locks = sorted(directory.glob("*.sock.lock")) + sorted(directory.glob("names/net-*/*.lock"))
    removed += [f"stale lock {lock}" for lock in locks if remove_stale_lock(lock)]
    for names in directory.glob("names/net-*"):
        _remove_if_empty(names)
    # A live node's eBPF filters stay: only with no node answering are ours stale.
    stale_filters = [] if any(listening(path) for path in sockets) else detach_stale()
    return removed + PolicyRouting().cleanup_stale() + stale_filters


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (a lock is still there), or gone
        directory.rmdir()


def _check_table_unused() -> None:
    if PolicyRouting().in_use():
        raise NodeRunning("a running xTR or PITR routes through table 4341 (into its TUN device)")


def _remove_link(name: str) -> list[str]:
    """The TUN device `name`, if it is still there."""
    try:
        index = socket.if_nametoindex(name)
    except OSError:
        return []
    with IPRoute() as ipr:
        try:
            ipr.link("del", index=index)
        except NetlinkError as error:
            raise OSError(error.code, f"cannot remove device {name}: {error}") from None
    return [f"device {name}"]
