"""NAT traversal end to end in memory: an xTR behind a NAT, an RTR, a Map-Server, a public xTR."""

from __future__ import annotations

from ipaddress import IPv4Address

from helpers.nat_sim import (
    MS,
    NAT_PUBLIC,
    NATTED,
    NATTED_EID,
    PUBLIC,
    PUBLIC_EID,
    RTR,
    NatNetwork,
)
from helpers.xtr_fixtures import icmp
from lispstack.wire import decode_control
from lispstack.wire.ecm import Ecm
from lispstack.wire.info import InfoReply
from lispstack.wire.map_register import MapRegister


def _registered(network: NatNetwork, eid: str) -> list[dict[str, object]]:
    answer = network.map_server.show("registrations", eid, network.now)
    assert isinstance(answer, list)
    return answer


def test_natted_xtr_learns_its_translation_and_registers_through_the_rtr() -> None:
    network = NatNetwork()
    network.advance(5.0)
    (nat,) = network.natted.show("nat", None, network.now)  # type: ignore[misc]
    assert nat["behind_nat"] is True
    assert nat["global_rloc"] == str(NAT_PUBLIC) and nat["rtrs"] == [str(RTR)]
    # The Map-Server holds the registration with the RTR as RLOC, proxy-replied.
    (registration,) = _registered(network, NATTED_EID)
    assert registration["registered_by"] == str(RTR)
    assert [loc["address"] for loc in registration["rlocs"]] == [str(RTR)]  # type: ignore[index, union-attr]
    assert registration["proxy_reply"] is True
    # The RTR's NAT table: the translated address and port the ECM came from.
    (entry,) = network.rtr.show("nat", None, network.now)  # type: ignore[misc]
    assert entry["private_rloc"] == str(NATTED)
    assert entry["translated"].startswith(f"{NAT_PUBLIC}:")
    assert entry["eid_prefixes"] == ["192.168.10.0/24"]
    # The Map-Register crossed the public side in an ECM, RTRs as locators.
    from_nat = [decode_control(p) for s, d, p in network.wire if s.address == NAT_PUBLIC]
    ecms = [m for m in from_nat if isinstance(m, Ecm)]
    assert ecms and all(isinstance(m.message, MapRegister) and m.to_ms for m in ecms)
    # One Map-Register went straight to the Map-Server at start, before the Info-Reply;
    # the registration through the RTR replaced it (same xTR-ID).
    assert sum(isinstance(m, MapRegister) for m in from_nat) == 1
    # The xTR saw the Map-Notify come back through the RTR (a Data-Map-Notify).
    database = network.natted.show("database", None, network.now)
    assert isinstance(database, list)
    assert database[0]["registrations"][0]["state"] == "registered"
    assert network.natted.counters.get("in.data-map-notify") >= 1


def test_pings_both_ways_through_the_rtr() -> None:
    network = NatNetwork()
    network.advance(5.0)
    network.tun(NATTED, icmp(NATTED_EID, PUBLIC_EID))
    network.advance(1.0)
    assert network.delivered[PUBLIC] == [icmp(NATTED_EID, PUBLIC_EID)]
    network.tun(PUBLIC, icmp(PUBLIC_EID, NATTED_EID))
    network.advance(1.0)
    assert network.delivered[NATTED] == [icmp(PUBLIC_EID, NATTED_EID)]
    assert network.rtr.counters.get("rtr.to-nat") == 1
    assert network.rtr.counters.get("rtr.re-encapsulated") == 1
    cache = network.rtr.show("map-cache", None, network.now)
    assert isinstance(cache, list) and cache[0]["eid"] == "192.168.20.0/24"


def test_public_xtr_first_also_reaches_the_natted_site() -> None:
    network = NatNetwork()
    network.advance(5.0)
    network.tun(PUBLIC, icmp(PUBLIC_EID, NATTED_EID))
    network.advance(1.0)
    network.tun(PUBLIC, icmp(PUBLIC_EID, NATTED_EID))  # the first waited for the Map-Reply
    network.advance(1.0)
    assert network.delivered[NATTED] == [icmp(PUBLIC_EID, NATTED_EID)] * 2


def test_xtr_not_behind_a_nat_changes_nothing() -> None:
    network = NatNetwork()
    network.advance(5.0)
    public = network.nodes[PUBLIC]
    (nat,) = public.show("nat", None, network.now)  # type: ignore[misc]
    assert nat["behind_nat"] is False and nat["global_rloc"] == str(PUBLIC)
    (registration,) = _registered(network, PUBLIC_EID)
    assert registration["registered_by"] == str(PUBLIC)
    assert public.counters.get("out.map-register") == 1  # no extra registration
    assert not any(d.address == RTR for s, d, _ in network.wire if s.address == PUBLIC)


def test_nat_traversal_off_registers_directly_and_is_lost_behind_the_nat() -> None:
    network = NatNetwork(natted_nat="off")
    network.advance(5.0)
    assert network.natted.show("nat", None, network.now) is None
    assert network.natted.counters.get("out.info-request") == 0
    (registration,) = _registered(network, NATTED_EID)
    assert registration["registered_by"] == str(NAT_PUBLIC)  # the private RLOC registered


def test_info_requests_keep_coming_and_the_binding_is_renewed_after_it_expired() -> None:
    network = NatNetwork()
    network.advance(5.0)
    network.nat.binding_timeout = 30.0
    (before,) = network.rtr.show("nat", None, network.now)  # type: ignore[misc]
    network.advance(200.0)  # registrations every ~20 s keep the binding alive
    (during,) = network.rtr.show("nat", None, network.now)  # type: ignore[misc]
    assert during["translated"] == before["translated"]
    sent = network.natted.counters.get("out.info-request")
    assert sent >= 8
    network.nat.out.clear()  # the NAT forgets (a reboot): the next registration opens a new binding
    network.nat.back.clear()
    network.advance(25.0)
    (after,) = network.rtr.show("nat", None, network.now)  # type: ignore[misc]
    assert after["translated"] != before["translated"]
    network.tun(PUBLIC, icmp(PUBLIC_EID, NATTED_EID))
    network.advance(1.0)
    network.tun(PUBLIC, icmp(PUBLIC_EID, NATTED_EID))
    network.advance(1.0)
    assert len(network.delivered[NATTED]) == 2


def test_public_address_change_is_followed() -> None:
    network = NatNetwork()
    network.advance(5.0)
    network.nat.renumber(IPv4Address("203.0.113.99"))
    network.advance(45.0)
    (nat,) = network.natted.show("nat", None, network.now)  # type: ignore[misc]
    assert nat["global_rloc"] == "203.0.113.99"
    (entry,) = network.rtr.show("nat", None, network.now)  # type: ignore[misc]
    assert entry["translated"].startswith("203.0.113.99:")
    network.tun(PUBLIC, icmp(PUBLIC_EID, NATTED_EID))
    network.advance(1.0)
    network.tun(PUBLIC, icmp(PUBLIC_EID, NATTED_EID))
    network.advance(1.0)
    assert len(network.delivered[NATTED]) == 2


def test_info_reply_from_the_map_server_names_the_rtr() -> None:
    network = NatNetwork()
    network.advance(1.0)
    replies = {
        d.address: decode_control(p) for s, d, p in network.wire if s.address == MS and p[0] == 0x78
    }
    to_nat = replies[NAT_PUBLIC]
    assert isinstance(to_nat, InfoReply)
    assert to_nat.nat.rtr_rlocs == (RTR,) and to_nat.nat.global_etr_rloc == NAT_PUBLIC
    assert to_nat.nat.ms_rloc == MS
    to_public = replies[PUBLIC]
    assert isinstance(to_public, InfoReply) and to_public.nat.rtr_rlocs == ()
