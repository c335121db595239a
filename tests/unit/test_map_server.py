"""Map-Server rules, driven through Node.handle with an explicit clock (no sockets)."""

from __future__ import annotations

import hmac
from ipaddress import IPv4Address, IPv6Address

import pytest

from helpers.mapping_messages import (
    ETR_PORT,
    KEY_A,
    KEY_B,
    LISP2,
    LISP3,
    deliver,
    ecm_request,
    mapping_node,
    record,
    register,
    sends,
)
from lispstack.core.events import Action, Endpoint, TimerFired, Trace
from lispstack.core.map_server import MapServer
from lispstack.core.node import Node
from lispstack.wire import AlgorithmId, InstanceId, MapNotify, decode_control, verify_raw


@pytest.fixture
def node() -> Node:
    return mapping_node()


def _from_etr(
    node: Node, raw: bytes, now: float = 0.0, source: IPv4Address = LISP2
) -> list[Action]:
    return deliver(node, raw, now, source=source, port=ETR_PORT)


def _registrations(node: Node, eid: str | None = None, now: float = 0.0) -> list[dict[str, object]]:
    answer = node.show("registrations", eid, now)
    assert isinstance(answer, list)
    return answer


# ------------------------------------------------------------ accepted registrations


def test_registration_is_stored_and_answered_with_an_authenticated_map_notify(node: Node) -> None:
    records = (record("192.168.2.0", 24, LISP2),)
    raw = register(records, KEY_B, nonce=0x1234, xtr_id=0x2222)
    (notify_send,) = sends(_from_etr(node, raw, now=5.0))
    assert notify_send.destination == Endpoint(LISP2, ETR_PORT)  # source address AND port
    assert verify_raw(notify_send.payload, KEY_B)
    assert not verify_raw(notify_send.payload, KEY_A)
    notify = decode_control(notify_send.payload)
    assert isinstance(notify, MapNotify)
    assert notify.nonce == 0x1234 and notify.records == records
    assert notify.key_id == 0 and notify.algorithm is AlgorithmId.HMAC_SHA_256_128
    assert notify.xtr_id is not None and notify.xtr_id.xtr_id == 0x2222 and notify.i_bit
    (entry,) = _registrations(node, now=65.0)
    assert entry["eid"] == "192.168.2.0/24" and entry["site"] == "site-b"
    assert entry["registered_by"] == "10.0.2.2" and entry["proxy_reply"] is False
    assert entry["xtr_id"] == f"0x{0x2222:032x}"
    assert entry["last_registered_s"] == 60.0 and entry["expires_in_s"] == 120.0
    assert entry["rlocs"] == [r.to_json() for r in records[0].locators]
    assert node.counters.get("registrations.accepted") == 1
    assert node.counters.get("out.map-notify") == 1


def test_no_map_notify_unless_asked(node: Node) -> None:
    raw = register((record("192.168.2.0", 24, LISP2),), KEY_B, want_map_notify=False)
    assert sends(_from_etr(node, raw)) == []
    assert len(_registrations(node)) == 1


def test_second_key_of_a_site_with_hmac_sha_1(node: Node) -> None:
    raw = register(
        (record("192.168.2.0", 24, LISP2),),
        b"site-b-second",
        key_id=7,
        algorithm=AlgorithmId.HMAC_SHA_1_96,
    )
    (send,) = sends(_from_etr(node, raw))
    notify = decode_control(send.payload)
    assert isinstance(notify, MapNotify) and notify.key_id == 7
    assert notify.algorithm is AlgorithmId.HMAC_SHA_1_96 and len(notify.auth_data) == 20
    assert verify_raw(send.payload, b"site-b-second")


def test_ipv6_and_instance_id_registrations(node: Node) -> None:
    v6 = record("2001:db8:1::", 48, IPv6Address("fd00::1"))
    _from_etr(node, register((v6,), KEY_A))
    iid = record("10.221.1.0", 24, LISP2, iid=200)
    _from_etr(node, register((iid,), KEY_B))
    entries = {(e["iid"], e["eid"]): e["site"] for e in _registrations(node)}
    assert entries == {(0, "2001:db8:1::/48"): "site-a", (200, "10.221.1.0/24"): "site-b"}
    # The same address in instance 0 belongs to no site.
    _from_etr(node, register((record("10.221.1.0", 24, LISP2),), KEY_B, nonce=9))
    assert node.counters.get("drop.no-site") == 1


# ------------------------------------------------------------ refused registrations


@pytest.mark.parametrize(
    ("key", "key_id", "algorithm", "reason"),
    [
        (b"wrong", 0, AlgorithmId.HMAC_SHA_256_128, "auth-failure"),
        (KEY_A, 0, AlgorithmId.HMAC_SHA_256_128, "auth-failure"),  # another site's key
        (KEY_B, 3, AlgorithmId.HMAC_SHA_256_128, "unknown-key-id"),
        (b"site-b-second", 7, AlgorithmId.HMAC_SHA_256_128, "wrong-algorithm"),
        (KEY_B, 0, AlgorithmId.NONE, "auth-failure"),
    ],
)
def test_bad_authentication_is_dropped_and_never_registered(
    node: Node, key: bytes, key_id: int, algorithm: AlgorithmId, reason: str
) -> None:
    raw = register((record("192.168.2.0", 24, LISP2),), key, key_id=key_id, algorithm=algorithm)
    actions = _from_etr(node, raw)
    assert sends(actions) == []
    assert node.counters.get(f"drop.{reason}") == 1
    assert node.counters.get("registrations.accepted") == 0
    assert _registrations(node) == []


def test_authentication_is_checked_on_the_raw_bytes(node: Node) -> None:
    raw = bytearray(register((record("192.168.2.0", 24, LISP2),), KEY_B))
    raw[-1] ^= 0x01  # one bit of the locator address, after signing
    assert sends(_from_etr(node, bytes(raw))) == []
    assert node.counters.get("drop.auth-failure") == 1


def test_authentication_data_of_the_wrong_length_is_malformed(node: Node) -> None:
    raw = bytearray(register((record("192.168.2.0", 24, LISP2),), KEY_B))
    raw[14:16] = (20).to_bytes(2, "big")  # SHA-256 announcing a SHA-1 length
    assert sends(_from_etr(node, bytes(raw))) == []
    assert node.counters.get("drop.malformed") == 1
    assert _registrations(node) == []


def test_drops_are_logged_once_per_reason_per_interval(node: Node) -> None:
    raw = register((record("192.168.2.0", 24, LISP2),), b"wrong")
    traces = [
        [a for a in _from_etr(node, raw, now=t) if isinstance(a, Trace)] for t in (0.0, 1.0, 2.0)
    ]
    assert [len(t) for t in traces] == [1, 0, 0]
    assert traces[0][0].fields["reason"] == "auth-failure"
    other = [a for a in _from_etr(node, raw, now=3.0, source=LISP3) if isinstance(a, Trace)]
    assert other == []  # another source too: a flood from many sources is one line
    assert node.counters.get("drop.auth-failure") == 4


@pytest.mark.parametrize(
    ("eid", "mask", "key", "reason"),
    [
        ("192.168.1.128", 25, KEY_A, "prefix-not-allowed"),  # site-a: exact prefixes only
        ("172.16.0.0", 16, KEY_A, "no-site"),
        ("192.168.0.0", 16, KEY_A, "no-site"),  # less specific than any site prefix
        ("2001:db8:1::", 64, KEY_A, "prefix-not-allowed"),
    ],
)
def test_prefixes_outside_the_site_are_refused(
    node: Node, eid: str, mask: int, key: bytes, reason: str
) -> None:
    raw = register((record(eid, mask, LISP2),), key)
    assert sends(_from_etr(node, raw)) == []
    assert node.counters.get(f"drop.{reason}") == 1
    assert _registrations(node) == []


def test_more_specifics_are_accepted_where_the_site_allows_them(node: Node) -> None:
    raw = register((record("192.168.2.128", 25, LISP2), record("192.168.2.0", 24, LISP2)), KEY_B)
    assert len(sends(_from_etr(node, raw))) == 1
    assert {e["eid"] for e in _registrations(node)} == {"192.168.2.0/24", "192.168.2.128/25"}


def test_a_map_register_is_all_or_nothing(node: Node) -> None:
    mixed = register((record("192.168.1.0", 24, LISP2), record("192.168.2.0", 24, LISP2)), KEY_A)
    _from_etr(node, mixed)
    assert node.counters.get("drop.mixed-sites") == 1
    partly = register((record("192.168.1.0", 24, LISP2), record("192.168.1.0", 25, LISP2)), KEY_A)
    _from_etr(node, partly)
    assert node.counters.get("drop.prefix-not-allowed") == 1
    assert _registrations(node) == []


# ------------------------------------------------------------ lifetime


def test_registration_expires_180_s_after_the_last_refresh(node: Node) -> None:
    records = (record("192.168.2.0", 24, LISP2),)
    _from_etr(node, register(records, KEY_B, nonce=1), now=0.0)
    assert node.next_deadline() == 180.0
    _from_etr(node, register(records, KEY_B, nonce=2), now=60.0)  # refresh
    node.handle(TimerFired(), 180.0)
    assert len(_registrations(node, now=180.0)) == 1
    node.handle(TimerFired(), 239.9)
    assert len(_registrations(node, now=239.9)) == 1
    actions = node.handle(TimerFired(), 240.0)
    assert _registrations(node, now=240.0) == []
    assert [a.event for a in actions if isinstance(a, Trace)] == ["registration-expired"]
    assert node.counters.get("registrations.expired") == 1
    assert node.counters.get("registrations.refreshed") == 1


def test_t_bit_makes_the_record_ttl_the_timeout(node: Node) -> None:
    _from_etr(node, register((record("192.168.2.0", 24, LISP2, ttl=10),), KEY_B, ttl_timeout=True))
    assert node.next_deadline() == 600.0
    node.handle(TimerFired(), 599.0)
    assert len(_registrations(node, now=599.0)) == 1
    node.handle(TimerFired(), 600.0)
    assert _registrations(node, now=600.0) == []


def test_record_ttl_without_t_bit_keeps_the_default_lifetime(node: Node) -> None:
    _from_etr(node, register((record("192.168.2.0", 24, LISP2, ttl=10),), KEY_B))
    assert node.next_deadline() == 180.0


def test_ttl_zero_deregisters(node: Node) -> None:
    _from_etr(node, register((record("192.168.2.0", 24, LISP2),), KEY_B, nonce=1), now=0.0)
    actions = _from_etr(
        node, register((record("192.168.2.0", 24, LISP2, ttl=0),), KEY_B, nonce=2), now=10.0
    )
    assert _registrations(node, now=10.0) == []
    assert [a.event for a in actions if isinstance(a, Trace)] == ["deregistered"]
    assert node.counters.get("registrations.deregistered") == 1
    assert len(sends(actions)) == 1  # the deregistration asked for a Map-Notify


def test_replayed_nonce_is_refused_within_the_window(node: Node) -> None:
    raw = register((record("192.168.2.0", 24, LISP2),), KEY_B, nonce=77)
    _from_etr(node, raw, now=0.0)
    assert sends(_from_etr(node, raw, now=100.0)) == []
    assert node.counters.get("drop.replayed") == 1
    (entry,) = _registrations(node, now=100.0)
    assert entry["expires_in_s"] == 80.0  # the replay did not refresh it
    # Another ETR may use the same nonce; after the registration expired, the
    # replay window (a day) still refuses it.
    _from_etr(node, raw, now=100.0, source=LISP3)
    assert node.counters.get("registrations.accepted") == 2
    node.handle(TimerFired(), 281.0)
    assert sends(_from_etr(node, raw, now=281.0)) == []
    assert node.counters.get("drop.replayed") == 2


def test_replayed_deregistration_changes_nothing(node: Node) -> None:
    records = (record("192.168.2.0", 24, LISP2),)
    withdraw = register((record("192.168.2.0", 24, LISP2, ttl=0),), KEY_B, nonce=2)
    _from_etr(node, register(records, KEY_B, nonce=1), now=0.0)
    _from_etr(node, withdraw, now=1.0)
    _from_etr(node, register(records, KEY_B, nonce=3), now=2.0)
    _from_etr(node, withdraw, now=3.0)
    assert len(_registrations(node, now=3.0)) == 1
    assert node.counters.get("drop.replayed") == 1


def test_two_etrs_of_one_site_are_kept_apart_and_merged_by_the_resolver(node: Node) -> None:
    _from_etr(node, register((record("192.168.2.0", 24, LISP2),), KEY_B, proxy=True, xtr_id=1))
    _from_etr(
        node,
        register((record("192.168.2.0", 24, LISP3),), KEY_B, proxy=True, xtr_id=2),
        source=LISP3,
    )
    assert {e["registered_by"] for e in _registrations(node)} == {"10.0.2.2", "10.0.3.3"}
    # The same xTR-ID from a new source address is the same ETR.
    _from_etr(
        node,
        register((record("192.168.2.0", 24, LISP3),), KEY_B, nonce=5, proxy=True, xtr_id=2),
        source=IPv4Address("10.0.9.9"),
    )
    assert {e["registered_by"] for e in _registrations(node)} == {"10.0.2.2", "10.0.9.9"}
    (send,) = sends(deliver(node, ecm_request("192.168.2.1"), 1.0))
    reply = decode_control(send.payload)
    assert {str(loc.address) for loc in reply.records[0].locators} == {"10.0.2.2", "10.0.3.3"}  # type: ignore[union-attr]


# ------------------------------------------------------------ show


def test_show_sites(node: Node) -> None:
    _from_etr(node, register((record("192.168.2.128", 25, LISP2),), KEY_B), now=10.0)
    sites = node.show("sites", None, 40.0)
    assert isinstance(sites, list)
    site_a, site_b = sites
    assert site_a["site"] == "site-a" and site_a["registered"] is False and site_a["keys"] == 1
    assert site_b["keys"] == 2 and site_b["key_ids"] == [0, 7] and site_b["registered"] is True
    assert site_b["eid_prefixes"] == ["192.168.2.0/24", "[200]10.221.0.0/16", "2001:db8:2::/48"]
    first = site_b["prefixes"][0]
    assert first == {
        "eid_prefix": "192.168.2.0/24",
        "registered": True,
        "registrations": 1,
        "last_registered_s": 30.0,
    }
    assert site_b["prefixes"][1]["last_registered_s"] is None
    node.handle(TimerFired(), 200.0)
    later = node.show("sites", None, 200.0)
    assert isinstance(later, list) and later[1]["registered"] is False
    assert later[1]["prefixes"][0]["last_registered_s"] == 190.0


def test_show_registrations_filters_by_longest_match(node: Node) -> None:
    _from_etr(node, register((record("192.168.2.0", 24, LISP2),), KEY_B))
    _from_etr(node, register((record("192.168.2.128", 25, LISP3),), KEY_B), source=LISP3)
    _from_etr(node, register((record("10.221.0.0", 16, LISP2, iid=200),), KEY_B, nonce=4))

    def eids(arg: str) -> list[object]:
        return [e["eid"] for e in _registrations(node, arg)]

    assert eids("192.168.2.200") == ["192.168.2.128/25"]
    assert eids("192.168.2.5") == ["192.168.2.0/24"]
    assert eids("192.168.2.128/26") == ["192.168.2.128/25"]
    assert eids("192.168.2.0/24") == ["192.168.2.0/24"]
    assert eids("[200]10.221.3.4") == ["10.221.0.0/16"]
    assert eids("10.221.3.4") == []
    with pytest.raises(ValueError, match="not-an-eid"):
        eids("not-an-eid")
    assert len(_registrations(node)) == 3


def test_instance_id_record_in_map_notify_is_the_registered_one(node: Node) -> None:
    iid = record("10.221.1.0", 24, LISP2, iid=200)
    (send,) = sends(_from_etr(node, register((iid,), KEY_B)))
    notify = decode_control(send.payload)
    assert isinstance(notify, MapNotify)
    assert notify.records[0].eid == InstanceId(200, IPv4Address("10.221.1.0"))


# ------------------------------------------------------------ state the Map-Server keeps


def test_registrations_decoded_apart_share_one_locator_tuple(node: Node) -> None:
    """The node's table of locator sets, which the replicas' decoding shares too."""
    _from_etr(node, register((record("192.168.2.0", 25, LISP2),), KEY_B, nonce=1))
    _from_etr(node, register((record("192.168.2.128", 25, LISP2),), KEY_B, nonce=2))
    (server,) = [r for r in node.roles if isinstance(r, MapServer)]
    first, second = [r.record.locators for _, r in server.registrations.items()]
    assert first is second
    assert server.locator_sets is node.locator_sets


def test_the_site_table_keeps_one_keyed_state_per_key(node: Node) -> None:
    (server,) = [r for r in node.roles if isinstance(r, MapServer)]
    site = next(s for s in server.sites.sites if s.name == "site-b")
    seven = server.sites.key(site, 7)
    assert seven is not None and seven.config.key == "site-b-second"
    assert seven is server.sites.key(site, 7)  # the key schedule ran once, at start
    message = b"any message"
    assert seven.hmac.digest(AlgorithmId.HMAC_SHA_1_96, message) == hmac.digest(
        b"site-b-second", message, "sha1"
    )
    assert server.sites.key(site, 3) is None
