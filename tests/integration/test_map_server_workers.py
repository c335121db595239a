"""A Map-Server / Map-Resolver run with several workers (SO_REUSEPORT) over loopback."""

from __future__ import annotations

import os
import random
import socket
import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from nodes import LISPSTACK, RunningNode, free_loopback, perf, start_node, wait_for

from helpers.mapping_messages import record, register
from lispstack.io.perf import NONCE_OFFSET, templates
from lispstack.wire import MapNotify, MapReply, decode_control

MS = free_loopback(20)
ETR = free_loopback(21)
KEY = b"site-b-secret"
WORKERS = 3
CONFIG = f"""roles = ["map-server", "map-resolver"]
listen = ["{MS}"]
workers = {WORKERS}

[[sites]]
name = "site-b"
auth-key = "site-b-secret"
eid-prefixes = ["192.168.2.0/24"]
accept-more-specifics = true
"""


@pytest.fixture
def node(tmp_path: Path) -> Iterator[RunningNode]:
    running = start_node(tmp_path, "ms-workers", CONFIG)
    yield running
    running.stop()


def _workers_of(node: RunningNode) -> list[int]:
    children = Path(f"/proc/{node.process.pid}/task/{node.process.pid}/children")
    return [int(pid) for pid in children.read_text().split()]


def _exchange(sock: socket.socket, payload: bytes, address: str) -> bytes:
    sock.sendto(payload, (address, 4342))
    return sock.recv(65535)


def test_every_worker_answers_from_the_registrations_of_all(node: RunningNode) -> None:
    assert len(_workers_of(node)) == WORKERS - 1
    # Register from several source ports: the kernel hands them to different workers.
    prefixes = [f"192.168.2.{16 * i}" for i in range(8)]
    for nonce, prefix in enumerate(prefixes, 1):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as etr:
            etr.bind((ETR, 0))
            etr.settimeout(5)
            message = register([record(prefix, 28, IPv4Address(ETR))], KEY, nonce=nonce, proxy=True)
            notify = decode_control(_exchange(etr, message, MS))
            assert isinstance(notify, MapNotify) and notify.nonce == nonce
    # Ask for each prefix from many source ports: every worker must know every prefix.
    asked = 0
    for port_index in range(24):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as itr:
            itr.bind((MS, 0))
            itr.settimeout(5)
            port = itr.getsockname()[1]
            for prefix_index, prefix in enumerate(prefixes):
                eid = IPv4Address(prefix) + 5
                (request,) = templates([eid], IPv4Address(MS), port)
                request = bytearray(request)
                nonce = port_index * 100 + prefix_index + 1
                request[NONCE_OFFSET : NONCE_OFFSET + 8] = nonce.to_bytes(8, "big")
                reply = decode_control(_exchange(itr, bytes(request), MS))
                assert isinstance(reply, MapReply) and reply.nonce == nonce
                (answer,) = reply.records
                assert str(answer.eid) == prefix and answer.locators, (port, prefix)
                asked += 1
    statistics = node.show("statistics")
    assert statistics["in.ecm"] == asked
    assert statistics["reply.proxy"] == asked
    assert statistics["map-register.accepted"] == len(prefixes)
    assert statistics["out.map-notify"] == len(prefixes)
    assert "workers.unanswered" not in statistics
    assert len(node.show("registrations")) == len(prefixes)


def test_stopping_worker_zero_stops_them_all(node: RunningNode) -> None:
    workers = _workers_of(node)
    assert node.stop() == 0
    assert wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 10)
    assert not node.socket.exists()


def test_a_killed_worker_zero_takes_the_others_along(node: RunningNode, tmp_path: Path) -> None:
    workers = _workers_of(node)
    os.kill(node.process.pid, 9)
    node.process.wait(timeout=10)
    assert wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 10)
    assert wait_for(lambda: not node.socket.exists(), 10)  # the others removed it, stale
    again = start_node(tmp_path, node.name, CONFIG)
    assert again.show("statistics") is not None
    assert again.stop() == 0


def test_a_live_node_s_control_socket_is_not_taken_over(node: RunningNode, tmp_path: Path) -> None:
    config = tmp_path / "second.toml"
    config.write_text(
        f'[node]\nname = "second"\ncontrol-socket = "{node.socket}"\n'
        f'roles = ["map-server"]\nlisten = ["{ETR}"]\n'
        '[[sites]]\nname = "s"\nauth-key = "k"\neid-prefixes = ["192.168.9.0/24"]\n'
    )
    second = subprocess.run(
        [LISPSTACK, "run", str(config)], capture_output=True, text=True, timeout=30, check=False
    )
    assert second.returncode == 2
    error = second.stderr.strip()  # the lock, taken before any socket is bound, says who
    assert error.startswith(
        f"lispstack: second: cannot start: node ms-workers (pid {node.process.pid}) "
    )
    assert f"is already running on control socket {node.socket} " in error
    assert node.show("statistics") is not None  # still its own socket


def test_load_from_many_ports_is_answered_and_counted_by_all_workers(node: RunningNode) -> None:
    summary = perf(MS, "--ports", "8")
    statistics = node.show("statistics")  # every worker's share, summed
    assert summary["received"] <= statistics["in.ecm"] <= summary["sent"]
    assert summary["received"] <= statistics["reply.negative-no-site"] <= summary["sent"]


def _ask_from_many_ports(eid: IPv4Address, ports: int) -> list[MapReply]:
    replies = []
    for index in range(ports):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as itr:
            itr.bind((MS, 0))
            itr.settimeout(5)
            (request,) = templates([eid], IPv4Address(MS), itr.getsockname()[1])
            request = bytearray(request)
            request[NONCE_OFFSET : NONCE_OFFSET + 8] = (index + 1).to_bytes(8, "big")
            reply = decode_control(_exchange(itr, bytes(request), MS))
            assert isinstance(reply, MapReply) and reply.nonce == index + 1
            replies.append(reply)
    return replies


def test_the_others_take_over_from_a_worker_that_dies(node: RunningNode) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as etr:
        etr.bind((ETR, 0))
        etr.settimeout(5)
        message = register([record("192.168.2.0", 24, IPv4Address(ETR))], KEY, proxy=True)
        assert isinstance(decode_control(_exchange(etr, message, MS)), MapNotify)
    _ask_from_many_ports(IPv4Address("192.168.2.7"), 16)  # every worker counts some
    before = node.show("statistics")
    victim = _workers_of(node)[0]
    os.kill(victim, 9)
    assert wait_for(lambda: node.show("statistics").get("workers.exited") == 1)
    after = node.show("statistics")
    assert after["in.ecm"] == before["in.ecm"]  # the victim's counters stay in the totals
    assert node.process.poll() is None
    assert victim not in _workers_of(node)
    # Every source port is answered, from the registration the survivors hold.
    for reply in _ask_from_many_ports(IPv4Address("192.168.2.7"), 16):
        assert reply.records[0].locators
    statistics = node.show("statistics")
    assert "workers.unanswered" not in statistics
    assert "Traceback" not in node.log.read_text()


def test_garbage_from_many_ports_hurts_no_worker(node: RunningNode) -> None:
    rng = random.Random(4343)
    (valid,) = templates([IPv4Address("4.2.2.2")], IPv4Address(MS), 9)
    for _source_port in range(16):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((MS, 0))
            for _ in range(100):
                garbage = bytearray(valid if rng.random() < 0.5 else rng.randbytes(60))
                for _ in range(rng.randrange(1, 6)):
                    garbage[rng.randrange(len(garbage))] = rng.randrange(256)
                garbage[0] = rng.choice((0x80, 0x30, 0x10, garbage[0]))
                sock.sendto(bytes(garbage[: rng.randrange(1, len(garbage) + 1)]), (MS, 4342))
    assert len(_workers_of(node)) == WORKERS - 1
    for reply in _ask_from_many_ports(IPv4Address("4.2.2.2"), 16):
        (negative,) = reply.records
        assert (str(negative.eid), negative.eid_mask_len) == ("0.0.0.0", 1)
    statistics = node.show("statistics")
    assert statistics.get("internal-error", 0) == 0
    assert "Traceback" not in node.log.read_text()
