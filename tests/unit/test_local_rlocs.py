"""The xTR watches its own RLOCs (issue 14 item 2): a multihomed xTR whose RLOC goes down
registers it with the R bit clear, SMRs the ITRs that hold its mapping (again, until they
ask), and stops sending from it, listing it as ITR-RLOC or setting its status bit."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address

from helpers.multihomed_lab import LISP2
from helpers.xtr_fixtures import build_xtr, datagram, icmp
from lispstack.config import parse_config
from lispstack.config.model import NodeConfig
from lispstack.core.drops import DropRecorder
from lispstack.core.encapsulation import data_header
from lispstack.core.events import Action, LocalRlocsChanged, SendDatagram, TimerFired
from lispstack.core.local_eids import LocalEids
from lispstack.core.node import Node
from lispstack.core.smr_retransmit import SMR_RETRANSMITS
from lispstack.core.xtr_cache import new_entry
from lispstack.wire.control import decode_control
from lispstack.wire.data_header import DataPacket
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_register import MapRegister
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import EidRecord, Locator, MappingRecord

PRIMARY, BACKUP = ip_address("10.0.2.2"), ip_address("10.0.3.2")
OTHER = ip_address("192.0.2.9")
"""An address of the node that is no RLOC."""
PEER_ITR = "10.0.1.1"


def config() -> NodeConfig:
    return parse_config(LISP2, "lisp2.toml")


def sent(actions: list[Action]) -> list[SendDatagram]:
    return [a for a in actions if isinstance(a, SendDatagram)]


def node_seen_by_peer() -> Node:
    """lisp2, registered once, with lisp1 (10.0.1.1) among the ITRs that sent it traffic."""
    etr, itr, counters = build_xtr(config())
    node = Node("lisp2", [etr, itr], counters, DropRecorder(counters))
    node.handle(LocalRlocsChanged(frozenset({PRIMARY, BACKUP, OTHER})), 0.0)
    node.handle(TimerFired(), 0.0)  # the first Map-Register
    packet = data_header(1, 1, 0) + icmp("192.168.1.1", "192.168.2.1")
    node.handle(datagram(packet, PEER_ITR, 50000, "10.0.2.2", 4341), 0.5)
    return node


def registered_rlocs(actions: list[Action]) -> list[tuple[str, bool]]:
    (register,) = [
        m for m in (decode_control(s.payload) for s in sent(actions)) if isinstance(m, MapRegister)
    ]
    return [(str(loc.address), loc.reachable) for loc in register.records[0].locators]


def smrs(actions: list[Action]) -> list[tuple[SendDatagram, MapRequest]]:
    found = []
    for action in sent(actions):
        message = decode_control(action.payload)
        if isinstance(message, MapRequest) and message.smr:
            found.append((action, message))
    return found


def test_local_eids_follow_the_usable_addresses() -> None:
    local = LocalEids(config().database_mappings)
    assert local.down == frozenset() and local.rloc_for[4] == PRIMARY
    watched = local.with_usable(frozenset({PRIMARY, BACKUP}))
    assert watched.down == frozenset()
    lost = watched.with_usable(frozenset({BACKUP}))
    assert lost.down == {PRIMARY}
    assert lost.rloc_for[4] == BACKUP
    assert lost.itr_rlocs == (BACKUP,)
    assert lost.rlocs == (PRIMARY, BACKUP)  # as configured
    (prefix,) = lost.prefixes
    assert prefix.lsb == 0b10
    assert [loc.reachable for loc in prefix.record(1).locators] == [False, True]
    assert lost.with_mappings(config().database_mappings).down == {PRIMARY}  # a reload keeps it
    back = lost.with_usable(frozenset({PRIMARY, BACKUP}))
    assert back.down == frozenset() and back.rloc_for[4] == PRIMARY and back.prefixes[0].lsb == 3
    # Neither usable: both down, and we still send from the first configured.
    none = lost.with_usable(frozenset())
    assert none.down == {PRIMARY, BACKUP}
    assert none.rloc_for[4] == PRIMARY and none.itr_rlocs == (PRIMARY, BACKUP)


def test_an_rloc_never_held_here_is_never_taken_down() -> None:
    """A NAT's public address, say: configured as an RLOC, never an address of the node."""
    local = LocalEids(config().database_mappings).with_usable(frozenset({BACKUP}))
    assert local.down == frozenset()
    assert local.with_usable(frozenset()).down == {BACKUP}


def test_an_rloc_going_down_is_registered_with_the_r_bit_clear_and_smred() -> None:
    node = node_seen_by_peer()
    out = node.handle(LocalRlocsChanged(frozenset({BACKUP, OTHER})), 1.0)
    [(smr_sent, smr)] = smrs(out)
    assert str(smr_sent.destination) == f"{PEER_ITR}:4342"
    assert smr_sent.source_address == BACKUP
    assert smr.itr_rlocs == (BACKUP,)
    assert str(smr.source_eid) == "192.168.2.0"
    assert node.counters.get("local-rlocs.changed") == 1
    # Registered again at once, before the SMR: the Map-Server has the new mapping when
    # the ITR asks.
    assert registered_rlocs(out) == [("10.0.2.2", False), ("10.0.3.2", True)]
    assert str(sent(out)[0].destination) == "10.0.1.254:4342"
    # Nothing of ours changed: no SMR, no Map-Register.
    assert sent(node.handle(LocalRlocsChanged(frozenset({BACKUP})), 1.1)) == []
    # Back: registered reachable again, SMRed again.
    out = node.handle(LocalRlocsChanged(frozenset({PRIMARY, BACKUP})), 2.0)
    assert len(smrs(out)) == 1
    assert registered_rlocs(out) == [("10.0.2.2", True), ("10.0.3.2", True)]


def test_a_map_request_is_answered_with_the_r_bit_clear_from_the_usable_rloc() -> None:
    node = node_seen_by_peer()
    node.handle(LocalRlocsChanged(frozenset({BACKUP})), 1.0)
    request = MapRequest(
        nonce=3,
        itr_rlocs=(ip_address(PEER_ITR),),
        records=(EidRecord(eid=ip_address("192.168.2.1"), eid_mask_len=32),),
    )
    out = sent(node.handle(datagram(request.encode(), PEER_ITR, 4342, "10.0.3.2", 4342), 1.5))
    (reply_sent,) = out
    reply = decode_control(reply_sent.payload)
    assert isinstance(reply, MapReply)
    assert [loc.reachable for loc in reply.records[0].locators] == [False, True]
    assert reply_sent.source_address == BACKUP


def test_the_itr_sends_from_a_usable_rloc_with_its_status_bit_and_itr_rlocs() -> None:
    node = node_seen_by_peer()
    itr = node.roles[1]
    node.handle(LocalRlocsChanged(frozenset({BACKUP})), 1.0)
    # A Map-Request for a remote EID lists only the usable ITR-RLOC.
    out = sent(node.handle_tun(icmp("192.168.2.1", "192.168.9.9"), 0, 1.2))
    (request_sent,) = out
    ecm = decode_control(request_sent.payload)
    assert isinstance(ecm, Ecm) and isinstance(ecm.message, MapRequest)
    assert ecm.message.itr_rlocs == (BACKUP,)
    reply = MapReply(
        nonce=ecm.message.nonce,
        records=(
            MappingRecord(
                eid=ip_address("192.168.9.0"),
                eid_mask_len=24,
                ttl=10,
                authoritative=True,
                locators=(Locator(address=ip_address("10.0.9.9")),),
            ),
        ),
    )
    node.handle(datagram(reply.encode(), "10.0.9.9", 4342, "10.0.3.2", 4342), 1.3)
    (data,) = sent(node.handle_tun(icmp("192.168.2.1", "192.168.9.9"), 0, 1.4))
    assert data.source_address == BACKUP
    header = DataPacket.decode(data.payload).header
    assert header.lsb == 0b10  # our priority-1 RLOC's bit is clear
    assert itr.local.site_lsb(0) == 0b10  # type: ignore[attr-defined]


def test_smrs_are_sent_again_until_the_itr_asks() -> None:
    node = node_seen_by_peer()
    assert len(smrs(node.handle(LocalRlocsChanged(frozenset({BACKUP})), 1.0))) == 1
    assert node.next_deadline() is not None and node.next_deadline() <= 2.0  # type: ignore[operator]
    again = smrs(node.handle(TimerFired(), 2.0))
    assert len(again) == 1 and str(again[0][0].destination) == f"{PEER_ITR}:4342"
    assert node.counters.get("out.smr.retransmitted") == 1
    # lisp1's SMR-invoked Map-Request (through the Map-Server) arrives: no more SMRs.
    invoked = MapRequest(
        nonce=4,
        itr_rlocs=(ip_address(PEER_ITR),),
        source_eid=ip_address("192.168.1.1"),
        records=(EidRecord(eid=ip_address("192.168.2.0"), eid_mask_len=32),),
        smr_invoked=True,
    )
    node.handle(datagram(invoked.encode(), PEER_ITR, 4342, "10.0.3.2", 4342), 2.5)
    assert node.counters.get("smr.answered") == 1
    assert smrs(node.handle(TimerFired(), 3.0)) == []
    assert smrs(node.handle(TimerFired(), 10.0)) == []


def test_smr_retransmissions_are_bounded() -> None:
    node = node_seen_by_peer()
    node.handle(LocalRlocsChanged(frozenset({BACKUP})), 1.0)
    retransmitted = sum(len(smrs(node.handle(TimerFired(), 1.0 + s))) for s in range(1, 20))
    assert retransmitted == SMR_RETRANSMITS
    etr = node.roles[0]
    assert len(etr.smr_retransmits) == 0  # type: ignore[attr-defined]


def test_the_itr_never_probes_or_revives_an_rloc_its_etr_says_is_down() -> None:
    record = MappingRecord(
        eid=ip_address("192.168.2.0"),
        eid_mask_len=24,
        ttl=10,
        authoritative=True,
        locators=(
            Locator(address=PRIMARY, priority=1, reachable=False),
            Locator(address=BACKUP, priority=2),
        ),
    )
    entry = new_entry(record, 0.0, "test")
    assert [entry.announced_up(r) for r in entry.rlocs] == [False, True]
    entry.set_reachable({PRIMARY: True, BACKUP: False})  # say, a probe state kept from before
    assert [r.reachable for r in entry.rlocs] == [False, False]
    entry.set_reachable({BACKUP: True})
    assert [r.reachable for r in entry.rlocs] == [False, True]
    assert entry.lsb == 0b10
    assert isinstance(entry.rlocs[1].address, IPv4Address)
