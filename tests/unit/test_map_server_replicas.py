"""Workers replicate accepted Map-Registers: same registrations, counted once."""

from __future__ import annotations

import random

from helpers.mapping_messages import KEY_B, LISP2, SITES, deliver, ecm_request, record, register
from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import DatagramReceived, Endpoint, ReplicateRegister, SendDatagram
from lispstack.core.map_server import MapServer
from lispstack.core.node import Node
from lispstack.wire import MapReply, decode_control

WORKERS = SITES.replace('name = "mapserver"\n', 'name = "mapserver"\nworkers = 2\n')


def _worker() -> Node:
    return build_node(parse_config(WORKERS, "mapserver.toml"), random.Random(1))


def _registrations(node: Node) -> list[tuple[object, ...]]:
    (server,) = [r for r in node.roles if isinstance(r, MapServer)]
    return [
        (str(p), r.etr, r.site, r.record, r.registered_by, r.proxy_reply, r.nonce, r.expires_at)
        for p, r in server.registrations.items()
    ]


def _replicas(actions: list[object]) -> list[ReplicateRegister]:
    return [a for a in actions if isinstance(a, ReplicateRegister)]


def test_a_replica_registers_without_answering_or_counting() -> None:
    accepting, other = _worker(), _worker()
    records = [record("192.168.2.0", 25, LISP2), record("192.168.2.128", 25, LISP2)]
    for now, nonce in ((1.0, 1), (61.0, 2)):  # a registration, then its refresh
        message = register(records, KEY_B, nonce=nonce, proxy=True)
        actions = deliver(accepting, message, now, source=LISP2)
        (replica,) = _replicas(actions)
        assert replica.payload == message and replica.source == Endpoint(LISP2, 4342)
        assert other.apply_replica is not None
        other.apply_replica(DatagramReceived(replica.payload, replica.source, replica.source), now)
        assert _registrations(other) == _registrations(accepting)
    assert other.counters.snapshot() == {}
    # The other worker answers for the replicated registration.
    (send,) = [
        a for a in deliver(other, ecm_request("192.168.2.9"), 62.0) if isinstance(a, SendDatagram)
    ]
    reply = decode_control(send.payload)
    assert isinstance(reply, MapReply) and reply.records[0].locators
    assert other.counters.get("reply.proxy") == 1


def test_refused_and_replayed_registers_are_not_replicated() -> None:
    node = _worker()
    message = register([record("192.168.2.0", 25, LISP2)], KEY_B, nonce=5)
    assert _replicas(deliver(node, message, 1.0, source=LISP2))
    assert not _replicas(deliver(node, message, 2.0, source=LISP2))  # replayed
    wrong_key = register([record("192.168.2.0", 25, LISP2)], b"not-the-key", nonce=6)
    assert not _replicas(deliver(node, wrong_key, 3.0, source=LISP2))
    single = build_node(parse_config(SITES, "mapserver.toml"), random.Random(1))
    assert not _replicas(deliver(single, message, 1.0, source=LISP2))  # one worker: nothing


def test_only_the_accepting_worker_counts_an_expiry() -> None:
    accepting, other = _worker(), _worker()
    message = register([record("192.168.2.0", 25, LISP2)], KEY_B, nonce=1)
    (replica,) = _replicas(deliver(accepting, message, 1.0, source=LISP2))
    assert other.apply_replica is not None
    other.apply_replica(DatagramReceived(replica.payload, replica.source, replica.source), 1.0)
    for node in (accepting, other):
        node.on_timer(1000.0)
        assert _registrations(node) == []
    assert accepting.counters.get("registrations.expired") == 1
    assert other.counters.snapshot() == {}
