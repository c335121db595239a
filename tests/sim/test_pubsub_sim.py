"""Publish/subscribe (RFC 9437) in memory: lisp1 subscribes, lisp2's RLOC changes, the
Map-Server's Map-Notify updates lisp1's map-cache at once; retransmission, give-up,
expiry, unsubscription and the counted drops. Virtual clock, every datagram through
Node.handle of its destination."""

from __future__ import annotations

import random
from collections.abc import Callable
from ipaddress import ip_address
from pathlib import Path

import pytest

from helpers.tshark import check_payloads
from helpers.xtr_fixtures import LISP1, build_xtr, datagram, icmp, lisp1_config
from lispstack.config import load_config, parse_config
from lispstack.config.model import NodeConfig
from lispstack.core.build import build_node
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.etr import Etr
from lispstack.core.events import Action, PacketFromTun, SendDatagram
from lispstack.core.map_server import MapServer
from lispstack.core.node import Node
from lispstack.core.replies import negative_record
from lispstack.core.subscriptions import (
    NOTIFY_RETRIES,
    SUBSCRIPTION_LIFETIME_S,
    KnownXtr,
    Subscriptions,
)
from lispstack.mapping.prefix import EidPrefix
from lispstack.wire.address import NO_ADDRESS
from lispstack.wire.auth import AlgorithmId, HmacKey
from lispstack.wire.buffer import Reader
from lispstack.wire.control import decode_control
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_notify import MapNotify, MapNotifyAck
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import SUBSCRIBE_BIT, EidRecord, Locator, MappingRecord
from lispstack.wire.xtr_id import XtrId

MAP_SERVER_CONFIG = Path(__file__).parents[2] / "examples" / "mapserver.toml"
SUBSCRIBER = "10.0.1.1"
PUBLISHER = "10.0.2.2"
Filter = Callable[[str, str, bytes], bool]


def lisp2_text(rloc: str = PUBLISHER) -> str:
    return (
        LISP1.replace("lisp1", "lisp2")
        .replace("192.168.1.0", "192.168.2.0")
        .replace("10.0.1.1", rloc)
        .replace("10.0.1.254", "10.0.2.254")
        .replace("site-a", "site-b")
        .replace("ALGO", "hmac-sha-256")
        .replace("PROXY", "false")
    )


def lisp2(rloc: str = PUBLISHER) -> NodeConfig:
    return parse_config(lisp2_text(rloc), "lisp2.toml")


def is_smr(payload: bytes) -> bool:
    if payload[0] >> 4 != 1:  # not a Map-Request (a data packet among them)
        return False
    message = decode_control(payload)
    return isinstance(message, MapRequest) and message.smr


class Lab:
    """The seed scenario with `[itr] subscribe = true` on lisp1; SMRs never delivered."""

    def __init__(self) -> None:
        self.map_server = build_node(load_config(MAP_SERVER_CONFIG), random.Random(7))
        self.nodes: dict[str, Node] = {}
        self.wire: list[tuple[str, str, bytes]] = []
        self.block: Filter = lambda src, dst, payload: is_smr(payload)
        subscriber = lisp1_config(extra="[itr]\nsubscribe = true\n")
        for seed, (config, rloc) in enumerate(((subscriber, SUBSCRIBER), (lisp2(), PUBLISHER))):
            etr, itr, counters = build_xtr(config, seed)  # seeds: xTR-IDs differ
            self.nodes[rloc] = Node(config.name, [etr, itr], counters, DropRecorder(counters))
        self.nodes["10.0.2.3"] = self.nodes[PUBLISHER]  # lisp2 after its RLOC change
        self.now = 0.0
        for rloc in (SUBSCRIBER, PUBLISHER):
            self.run(rloc, self.nodes[rloc].on_timer(0.0))

    @property
    def ms(self) -> MapServer:
        role = self.map_server.roles[0]
        assert isinstance(role, MapServer)
        return role

    def run(self, at: str, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendDatagram):
                self.send(at, action)

    def send(self, at: str, action: SendDatagram) -> None:
        dst = str(action.destination.address)
        src = str(action.source_address or at)
        if action.destination.port == 4342:
            self.wire.append((src, dst, action.payload))
        if self.block(src, dst, action.payload):
            return
        received = datagram(action.payload, src, action.source_port, dst, action.destination.port)
        if dst.endswith(".254"):
            self.run(dst, self.map_server.handle(received, self.now))
        else:
            self.run(dst, self.nodes[dst].handle(received, self.now))

    def tick(self, seconds: float) -> None:
        self.now += seconds
        self.run("10.0.1.254", self.map_server.on_timer(self.now))

    def ping(self) -> None:
        self.now += 1.0
        packet = PacketFromTun(icmp("192.168.1.1", "192.168.2.1"))
        self.run(SUBSCRIBER, self.nodes[SUBSCRIBER].handle(packet, self.now))

    def move_lisp2(self, rloc: str = "10.0.2.3") -> None:
        """lisp2's RLOC changes (a reload); it registers the new one."""
        node = self.nodes[PUBLISHER]
        self.run(PUBLISHER, node.reconfigure(lisp2(rloc), self.now))
        self.run(rloc, node.on_timer(self.now))

    def cached_rlocs(self) -> list[str]:
        cache = self.nodes[SUBSCRIBER].show("map-cache", "192.168.2.1", self.now)
        assert isinstance(cache, list) and cache
        return [str(r["address"]) for r in cache[0]["rlocs"]]

    def counter(self, at: str, name: str) -> int:
        node = self.map_server if at == "ms" else self.nodes[at]
        return node.counters.get(name)

    def sent(self, kind: type, to: str | None = None) -> list[tuple[str, str, object]]:
        out = []
        for src, dst, payload in self.wire:
            message = decode_control(payload)
            if isinstance(message, Ecm):
                message = message.message
            if isinstance(message, kind) and (to is None or dst == to):
                out.append((src, dst, message))
        return out


def publications(lab: Lab) -> list[MapNotify]:
    """The Map-Notifies sent to the subscriber about lisp2's EID prefix (not its own
    registration's)."""
    return [
        m
        for _, _, m in lab.sent(MapNotify, to=SUBSCRIBER)
        if isinstance(m, MapNotify) and m.records[0].eid_text == "192.168.2.0/24"
    ]


def subscribed_lab() -> Lab:
    lab = Lab()
    lab.ping()
    assert lab.cached_rlocs() == [PUBLISHER]
    return lab


def subscriber_etr(lab: Lab) -> Etr:
    etr = lab.nodes[SUBSCRIBER].roles[0]
    assert isinstance(etr, Etr)
    return etr


def test_map_request_subscribes_and_the_map_server_confirms_with_a_map_notify() -> None:
    lab = subscribed_lab()
    ((_, _, request),) = lab.sent(MapRequest, to="10.0.1.254")
    assert isinstance(request, MapRequest)
    assert request.records[0].subscribe and request.records[0].reserved == SUBSCRIBE_BIT
    assert request.xtr_id == subscriber_etr(lab).xtr_id
    assert lab.counter("ms", "subscription.added") == 1
    (notify,) = publications(lab)
    assert notify.nonce == request.nonce and notify.xtr_id == request.xtr_id
    assert notify.records[0].eid_text == "192.168.2.0/24"
    assert lab.counter("ms", "in.map-notify-ack.accepted") == 1
    ((_, ack_to, ack),) = lab.sent(MapNotifyAck)
    assert ack_to == "10.0.1.254" and isinstance(ack, MapNotifyAck) and ack.nonce == notify.nonce
    assert lab.ms.subscriptions.entries(lab.now)[0]["unacknowledged"] is False


def test_rloc_change_reaches_the_subscriber_at_once_without_smr_or_ttl() -> None:
    lab = subscribed_lab()
    requests = lab.counter(SUBSCRIBER, "out.map-request")
    lab.move_lisp2()
    assert lab.cached_rlocs() == ["10.0.2.3"]
    assert lab.counter(SUBSCRIBER, "out.map-request") == requests  # nobody asked again
    assert lab.counter(SUBSCRIBER, "in.smr") == 0
    assert lab.counter(SUBSCRIBER, "in.map-notify.publication") == 2
    notifies = publications(lab)
    assert [str(n.records[0].locators[0].address) for n in notifies] == [PUBLISHER, "10.0.2.3"]
    assert notifies[1].nonce == notifies[0].nonce + 1
    assert lab.counter("ms", "in.map-notify-ack.accepted") == 2


def test_unacknowledged_map_notify_is_retransmitted_then_the_subscriber_given_up() -> None:
    lab = subscribed_lab()
    lab.block = lambda src, dst, payload: dst == SUBSCRIBER or is_smr(payload)
    lab.move_lisp2()
    for _ in range(NOTIFY_RETRIES + 1):
        lab.tick(1.0)
    assert lab.counter("ms", "out.map-notify.retransmit") == NOTIFY_RETRIES
    assert lab.counter("ms", "subscription.gave-up") == 1
    assert len(lab.ms.subscriptions) == 0
    lab.tick(1.0)
    assert lab.counter("ms", "out.map-notify.retransmit") == NOTIFY_RETRIES


def test_lost_ack_retransmission_is_acknowledged_again_and_applied_once() -> None:
    lab = subscribed_lab()
    lab.block = lambda src, dst, payload: (
        (payload[0] >> 4 == 5 and lab.counter("ms", "out.map-notify.retransmit") == 0)
        or is_smr(payload)
    )
    lab.move_lisp2()
    assert lab.cached_rlocs() == ["10.0.2.3"]
    lab.tick(1.0)
    assert lab.counter("ms", "out.map-notify.retransmit") == 1
    assert lab.counter(SUBSCRIBER, "in.map-notify.repeated") == 1
    assert lab.counter(SUBSCRIBER, "in.map-notify.publication") == 2
    lab.tick(1.0)
    assert lab.counter("ms", "out.map-notify.retransmit") == 1  # acknowledged now


def test_deregistration_publishes_a_negative_record() -> None:
    lab = subscribed_lab()
    lab.run(PUBLISHER, lab.nodes[PUBLISHER].shutdown(lab.now))
    cache = lab.nodes[SUBSCRIBER].show("map-cache", "192.168.2.1", lab.now)
    assert isinstance(cache, list) and cache[0]["rlocs"] == []
    assert cache[0]["action"] == "natively-forward"


def test_subscription_expires() -> None:
    lab = subscribed_lab()
    lab.tick(SUBSCRIPTION_LIFETIME_S)
    assert lab.counter("ms", "subscription.expired") == 1
    assert len(lab.ms.subscriptions) == 0


def _notify(lab: Lab, nonce: int, key: str, rloc: str = "10.9.9.9") -> bytes:
    record = MappingRecord(
        eid=ip_address("192.168.2.0"),
        eid_mask_len=24,
        ttl=1440,
        locators=(Locator(address=ip_address(rloc)),),
    )
    xtr_id = subscriber_etr(lab).xtr_id
    message = MapNotify(nonce=nonce, records=(record,), i_bit=True, xtr_id=xtr_id)
    return message.signed(key.encode())[1]


def _deliver(lab: Lab, payload: bytes) -> None:
    received = datagram(payload, "10.0.1.254", 4342, SUBSCRIBER, 4342)
    lab.run(SUBSCRIBER, lab.nodes[SUBSCRIBER].handle(received, lab.now))


def _first_nonce(lab: Lab) -> int:
    return publications(lab)[0].nonce


def test_map_notify_with_a_wrong_key_is_a_counted_drop() -> None:
    lab = subscribed_lab()
    _deliver(lab, _notify(lab, _first_nonce(lab) + 1, "not-the-site-key"))
    assert lab.counter(SUBSCRIBER, "drop.map-notify-bad-auth") == 1
    assert lab.cached_rlocs() == [PUBLISHER]


def test_map_notify_of_no_subscription_is_a_counted_drop() -> None:
    lab = subscribed_lab()
    _deliver(lab, _notify(lab, _first_nonce(lab) + 1000, "site-a-secret"))
    assert lab.counter(SUBSCRIBER, "drop.map-notify-unknown-subscription") == 1
    assert lab.cached_rlocs() == [PUBLISHER]
    _deliver(lab, _notify(lab, _first_nonce(lab), "site-a-secret"))  # a replay: acked only
    assert lab.counter(SUBSCRIBER, "in.map-notify.repeated") == 1
    assert lab.cached_rlocs() == [PUBLISHER]
    _deliver(lab, _notify(lab, _first_nonce(lab) + 1, "site-a-secret"))
    assert lab.cached_rlocs() == ["10.9.9.9"]


def _subscribing_request(xtr_id: XtrId, itr_rloc: str | None) -> bytes:
    return MapRequest(
        nonce=0x1234,
        itr_rlocs=(NO_ADDRESS if itr_rloc is None else ip_address(itr_rloc),),
        records=(
            EidRecord(eid=ip_address("192.168.2.1"), eid_mask_len=32, reserved=SUBSCRIBE_BIT),
        ),
        xtr_id=xtr_id,
    ).encode()


def test_map_server_refuses_unknown_subscribers_and_foreign_itr_rlocs() -> None:
    lab = subscribed_lab()
    unknown = _subscribing_request(XtrId(42), SUBSCRIBER)
    lab.run(
        SUBSCRIBER,
        lab.map_server.handle(datagram(unknown, SUBSCRIBER, 4342, "10.0.1.254", 4342), 9),
    )
    assert lab.counter("ms", "drop.subscribe-unknown-xtr") == 1
    assert lab.counter("ms", "forward.to-etr") == 2  # still answered
    xtr_id = subscriber_etr(lab).xtr_id
    foreign = _subscribing_request(xtr_id, "10.0.2.2")  # notifications to someone else
    lab.run(
        SUBSCRIBER,
        lab.map_server.handle(datagram(foreign, SUBSCRIBER, 4342, "10.0.1.254", 4342), 9),
    )
    assert lab.counter("ms", "drop.subscribe-foreign-itr-rloc") == 1
    assert lab.counter("ms", "subscription.added") == 1


def test_unsubscribe_with_an_afi_0_itr_rloc() -> None:
    lab = subscribed_lab()
    xtr_id = subscriber_etr(lab).xtr_id
    request = _subscribing_request(xtr_id, None)
    from_elsewhere = datagram(request, "10.0.2.2", 4342, "10.0.1.254", 4342)
    lab.map_server.handle(from_elsewhere, lab.now)
    assert lab.counter("ms", "drop.unsubscribe-unknown-xtr") == 1 and len(lab.ms.subscriptions)
    lab.map_server.handle(datagram(request, SUBSCRIBER, 4342, "10.0.1.254", 4342), lab.now)
    assert len(lab.ms.subscriptions) == 0
    assert lab.counter("ms", "subscription.removed") == 1


def test_map_notify_ack_with_a_wrong_key_or_unknown_nonce_is_a_counted_drop() -> None:
    lab = subscribed_lab()
    lab.block = lambda src, dst, payload: dst == SUBSCRIBER or is_smr(payload)
    lab.move_lisp2()
    pending = publications(lab)[-1]
    fields = {"records": pending.records, "i_bit": True, "xtr_id": pending.xtr_id}
    forged = MapNotifyAck(nonce=pending.nonce, **fields).signed(b"wrong")[1]  # type: ignore[arg-type]
    stray = MapNotifyAck(nonce=7, **fields).signed(b"site-a-secret")[1]  # type: ignore[arg-type]
    for payload in (forged, stray):
        lab.map_server.handle(datagram(payload, SUBSCRIBER, 4342, "10.0.1.254", 4342), lab.now)
    assert lab.counter("ms", "drop.map-notify-ack-bad-auth") == 1
    assert lab.counter("ms", "drop.map-notify-ack-unknown-nonce") == 1
    assert lab.ms.subscriptions.entries(lab.now)[0]["unacknowledged"] is True


@pytest.mark.tshark
def test_tshark_reads_the_subscription_the_publication_and_its_ack() -> None:
    lab = subscribed_lab()
    lab.move_lisp2()
    ((_, _, request),) = lab.sent(MapRequest, to="10.0.1.254")
    assert isinstance(request, MapRequest)
    publication = next(
        payload
        for _, dst, payload in lab.wire
        if dst == SUBSCRIBER and payload[0] >> 4 == 4 and b"\xc0\xa8\x02\x00" in payload
    )
    ack = next(payload for _, _, payload in lab.wire if payload[0] >> 4 == 5)
    request_f, notify_f, ack_f = check_payloads([request.encode(), publication, ack])
    for frame in (notify_f, ack_f):
        assert frame.clean, frame.problems()
    xtr_id = subscriber_etr(lab).xtr_id
    # Wireshark names neither the N bit (the first bit of the record's reserved byte)
    # nor a Map-Request's I bit: it reads everything up to the xTR-ID and site-ID,
    # and leaves exactly those undissected.
    assert int(request_f.value("lisp.mreq.record.res"), 0) == SUBSCRIBE_BIT
    assert request_f.value("lisp.mreq.record.prefix.ipv4") == "192.168.2.1"
    assert not request_f.malformed and request_f.undissected == xtr_id.encode()
    assert notify_f.value("lisp.mnot.flags.xtrid") == "1"
    assert notify_f.value("lisp.xtrid").replace(":", "") == f"{xtr_id.xtr_id:032x}"
    assert notify_f.value("lisp.mapping.eid.ipv4") == "192.168.2.0"
    assert ack_f.value("lisp.nonce") == notify_f.value("lisp.nonce")


def test_itr_shutdown_unsubscribes() -> None:
    lab = subscribed_lab()
    assert len(lab.ms.subscriptions) == 1
    lab.run(SUBSCRIBER, lab.nodes[SUBSCRIBER].shutdown(lab.now))
    assert lab.counter(SUBSCRIBER, "out.unsubscribe") == 1
    assert len(lab.ms.subscriptions) == 0
    assert lab.counter("ms", "subscription.removed") == 1


def test_a_change_reaches_subscribers_of_covering_and_covered_prefixes() -> None:
    counters = Counters()
    published: list[str] = []

    def record_for(prefix: EidPrefix, now: float) -> MappingRecord:
        published.append(str(prefix))
        return negative_record(prefix, 1)

    subscriptions = Subscriptions(counters, DropRecorder(counters), record_for)
    key = HmacKey("k")
    known = KnownXtr("a", key, 0, AlgorithmId.HMAC_SHA_256_128, frozenset({ip_address(SUBSCRIBER)}))
    subscriptions.registered(1, known)
    request = MapRequest.decode_from(Reader(_subscribing_request(XtrId(1), SUBSCRIBER)))
    site = EidPrefix.parse("192.168.2.0/24")
    sent_first = subscriptions.subscribe(request, ip_address(SUBSCRIBER), site, SUBSCRIBER, 0.0)
    assert len([a for a in sent_first if isinstance(a, SendDatagram)]) == 1
    for changed in ("192.168.2.7/32", "192.168.0.0/16", "192.168.3.0/24"):
        subscriptions.changed([EidPrefix.parse(changed)], 1.0)
    assert published == ["192.168.2.0/24", "192.168.2.7/32", "192.168.0.0/16"]
    assert counters.get("out.map-notify.publication") == 2


def test_a_change_another_worker_accepted_is_published_by_the_first_retransmission() -> None:
    """With `workers = N`, a Map-Register accepted by another worker arrives as a replica,
    whose answers are not sent: the publication leaves with the retransmission."""
    lab = subscribed_lab()
    node = lab.nodes[PUBLISHER]
    node.reconfigure(lisp2("10.0.2.3"), lab.now)
    (register,) = [a for a in node.on_timer(lab.now) if isinstance(a, SendDatagram)]
    lab.ms.apply_replica(datagram(register.payload, "10.0.2.3", 4342, "10.0.2.254", 4342), lab.now)
    assert lab.cached_rlocs() == [PUBLISHER]
    lab.tick(1.0)
    assert lab.cached_rlocs() == ["10.0.2.3"]
