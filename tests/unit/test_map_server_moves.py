"""The Map-Server and moving EIDs: a host prefix more specific than its site prefix is
registered by one ETR at a time (core/moved_eids.py); anything else merges as before."""

from __future__ import annotations

from ipaddress import ip_address

from helpers.mapping_messages import (
    KEY_B,
    LISP2,
    LISP3,
    deliver,
    general_path_node,
    mapping_node,
    record,
    register,
    sends,
)
from lispstack.core.map_server import MapServer
from lispstack.core.node import Node
from lispstack.wire import MapNotify, decode_control
from lispstack.wire.map_notify import MapNotifyAck


def registered_by(node: Node, eid: str) -> list[str]:
    (server,) = (r for r in node.roles if isinstance(r, MapServer))
    resolution = server.resolve(0, ip_address(eid), 10.0)
    return sorted(r.registered_by for r in resolution.registrations)


def test_a_host_prefix_registered_elsewhere_replaces_the_old_and_tells_its_etr() -> None:
    for node in (mapping_node(), general_path_node()):
        deliver(
            node, register([record("192.168.2.7", 32, LISP2)], KEY_B, xtr_id=2), 1.0, source=LISP2
        )
        out = deliver(
            node,
            register([record("192.168.2.7", 32, LISP3)], KEY_B, nonce=2, xtr_id=3),
            2.0,
            source=LISP3,
        )
        assert registered_by(node, "192.168.2.7") == [str(LISP3)]
        assert node.counters.get("registrations.moved") == 1
        (notice,) = [s for s in sends(out) if s.destination.address == LISP2]
        assert notice.destination.port == 4342
        message = decode_control(notice.payload)
        assert isinstance(message, MapNotify)
        assert [str(loc.address) for loc in message.records[0].locators] == [str(LISP3)]
        ack = MapNotifyAck(nonce=message.nonce, records=message.records).signed(KEY_B)[1]
        assert deliver(node, ack, 2.1, source=LISP2) == []
        assert node.counters.get("map-notify-ack.moved") == 1
        # The same ack again answers nothing: an unsolicited ack, dropped.
        deliver(node, ack, 2.2, source=LISP2)
        assert node.counters.get("drop.map-notify-ack-unknown-nonce") == 1


def test_prefixes_that_are_not_hosts_still_merge_across_etrs() -> None:
    node = mapping_node()
    deliver(node, register([record("192.168.2.0", 25, LISP2)], KEY_B, xtr_id=2), 1.0, source=LISP2)
    out = deliver(
        node,
        register([record("192.168.2.0", 25, LISP3)], KEY_B, nonce=2, xtr_id=3),
        2.0,
        source=LISP3,
    )
    assert registered_by(node, "192.168.2.1") == sorted([str(LISP2), str(LISP3)])
    assert node.counters.get("registrations.moved") == 0
    assert [s.destination.address for s in sends(out)] == [LISP3]  # its Map-Notify only


def test_a_forged_ack_is_dropped() -> None:
    node = mapping_node()
    deliver(node, register([record("192.168.2.7", 32, LISP2)], KEY_B, xtr_id=2), 1.0, source=LISP2)
    out = deliver(
        node,
        register([record("192.168.2.7", 32, LISP3)], KEY_B, nonce=2, xtr_id=3),
        2.0,
        source=LISP3,
    )
    (notice,) = [s for s in sends(out) if s.destination.address == LISP2]
    message = decode_control(notice.payload)
    assert isinstance(message, MapNotify)
    forged = MapNotifyAck(nonce=message.nonce, records=message.records).signed(b"guess")[1]
    deliver(node, forged, 2.1, source=LISP2)
    assert node.counters.get("map-notify-ack.moved") == 0
    assert node.counters.get("drop.map-notify-ack-unknown-nonce") == 1
