"""Captured Map-Registers replayed to the Map-Server: refused within the replay window.

Each attack runs on the general path alone (mapping_node) and on a whole node,
whose refresh path takes byte-identical-but-nonce messages (build_node).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from helpers.mapping_messages import (
    KEY_B,
    LISP2,
    LISP3,
    SITES,
    deliver,
    mapping_node,
    record,
    register,
    sends,
)
from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import DatagramReceived, ReplicateRegister, Trace
from lispstack.core.map_server import MapServer
from lispstack.core.node import Node

WINDOW = SITES.replace("[[sites]]", "[map-server]\nreplay-window = 3600\n\n[[sites]]", 1)


def _whole_node(text: str = SITES) -> Node:
    return build_node(parse_config(text, "mapserver.toml"), random.Random(1))


@pytest.fixture(params=[mapping_node, _whole_node], ids=["general-path", "whole-node"])
def node(request: pytest.FixtureRequest) -> Node:
    make: Callable[[], Node] = request.param
    return make()


def _rlocs(node: Node, now: float) -> list[str]:
    answer = node.show("registrations", None, now)
    assert isinstance(answer, list)
    return [str(rloc["address"]) for entry in answer for rloc in entry["rlocs"]]


def _from_etr(node: Node, raw: bytes, now: float, source: object = LISP2) -> bool:
    """Deliver from the ETR; was it accepted (answered by a Map-Notify)?"""
    return bool(sends(deliver(node, raw, now, source=source)))  # type: ignore[arg-type]


def _site_b(rloc: object, nonce: int, ttl: int = 3, xtr_id: int | None = None) -> bytes:
    return register(
        (record("192.168.2.0", 24, rloc, ttl=ttl),),  # type: ignore[arg-type]
        KEY_B,
        nonce=nonce,
        xtr_id=xtr_id,
    )


def test_an_older_map_register_replayed_after_a_newer_one_is_refused(node: Node) -> None:
    old = _site_b(LISP2, nonce=1)
    assert _from_etr(node, old, 0.0)
    assert _from_etr(node, _site_b(LISP3, nonce=2), 60.0)  # the ETR moved to LISP3
    assert not _from_etr(node, old, 61.0)
    assert _rlocs(node, 61.0) == [str(LISP3)]
    assert node.counters.get("drop.replayed") == 1


def test_a_map_register_replayed_after_the_deregistration_is_refused(node: Node) -> None:
    registration = _site_b(LISP2, nonce=1)
    withdraw = _site_b(LISP2, nonce=2, ttl=0)
    assert _from_etr(node, registration, 0.0)
    assert _from_etr(node, withdraw, 30.0)
    assert not _from_etr(node, registration, 31.0)
    assert _rlocs(node, 31.0) == []
    # And a replayed deregistration cannot remove a later registration.
    assert _from_etr(node, _site_b(LISP2, nonce=3), 40.0)
    assert not _from_etr(node, withdraw, 41.0)
    assert _rlocs(node, 41.0) == [str(LISP2)]
    assert node.counters.get("drop.replayed") == 2


def test_alternating_captures_do_not_keep_a_dead_etr_registered(node: Node) -> None:
    captures = [_site_b(LISP2, nonce=1), _site_b(LISP2, nonce=2)]
    assert _from_etr(node, captures[0], 0.0)
    assert _from_etr(node, captures[1], 60.0)
    # The ETR is gone; the attacker replays the two captures in turn, for a day.
    for minute in range(2, 24 * 60):
        now = minute * 60.0
        node.on_timer(now)
        assert not _from_etr(node, captures[minute % 2], now)
    assert _rlocs(node, 24 * 3600.0) == []
    assert node.counters.get("registrations.expired") == 1


def test_the_window_is_per_site_and_etr(node: Node) -> None:
    assert _from_etr(node, _site_b(LISP2, nonce=5), 0.0)
    assert _from_etr(node, _site_b(LISP3, nonce=5), 1.0, source=LISP3)  # another ETR
    assert _from_etr(node, _site_b(LISP2, nonce=5, xtr_id=9), 2.0)  # another, by xTR-ID
    # An xTR-ID is the ETR wherever it sends from.
    assert not _from_etr(node, _site_b(LISP2, nonce=5, xtr_id=9), 3.0, source=LISP3)


def test_the_replay_window_comes_from_the_configuration() -> None:
    node = mapping_node(WINDOW)
    raw = _site_b(LISP2, nonce=1)
    assert _from_etr(node, raw, 0.0)
    assert not _from_etr(node, raw, 3599.0)
    node.on_timer(7200.0)  # forgotten within an eighth of the window after it ends
    assert _from_etr(node, raw, 7200.0)  # past the window: the residual risk


def test_the_default_window_is_a_day() -> None:
    node = mapping_node()
    raw = _site_b(LISP2, nonce=1)
    assert _from_etr(node, raw, 0.0)
    node.on_timer(23.9 * 3600)
    assert not _from_etr(node, raw, 23.9 * 3600)


def test_a_replay_to_another_worker_is_refused() -> None:
    workers = SITES.replace('name = "mapserver"\n', 'name = "mapserver"\nworkers = 2\n')
    accepting, other = _whole_node(workers), _whole_node(workers)
    for nonce, now in ((1, 0.0), (2, 60.0)):  # a registration and its refresh (refresh path)
        raw = _site_b(LISP2, nonce=nonce)
        (replica,) = [
            a
            for a in deliver(accepting, raw, now, source=LISP2)
            if isinstance(a, ReplicateRegister)
        ]
        assert other.apply_replica is not None
        other.apply_replica(DatagramReceived(replica.payload, replica.source, replica.source), now)
    for nonce in (1, 2):
        assert not _from_etr(other, _site_b(LISP2, nonce=nonce), 61.0)
    assert other.counters.get("drop.replayed") == 2


def test_a_replay_is_logged_once_a_minute_per_source() -> None:
    node = mapping_node()
    raw = _site_b(LISP2, nonce=1)
    _from_etr(node, raw, 0.0)
    logged = [
        a
        for now in (1.0, 2.0, 3.0)
        for a in deliver(node, raw, now, source=LISP2)
        if isinstance(a, Trace) and a.event == "drop"
    ]
    assert [t.fields["reason"] for t in logged] == ["replayed"]
    assert "nonce 0x0000000000000001" in str(logged[0].fields["detail"])
    assert node.counters.get("drop.replayed") == 3


def test_map_server_role_reads_the_window() -> None:
    (server,) = [r for r in mapping_node(WINDOW).roles if isinstance(r, MapServer)]
    assert server.replay_window == 3600.0
