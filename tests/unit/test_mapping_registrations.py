"""The Map-Server's RegistrationStore: merge, refresh in place, lookup and expiry."""

from __future__ import annotations

from ipaddress import IPv4Address

from helpers.registrations import registration
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.registrations import RegistrationStore

P = EidPrefix.parse
A = IPv4Address


def test_several_etrs_of_one_prefix_are_kept_apart() -> None:
    store = RegistrationStore()
    store.put(registration("192.168.2.0/24", "etr1", record="10.0.2.2"))
    store.put(registration("192.168.2.0/24", "etr2", record="10.0.2.3", now=1, expires_at=181))
    found = store.lookup(0, A("192.168.2.1"))
    assert found is not None
    prefix, regs = found
    assert prefix == P("192.168.2.0/24")
    assert sorted(str(reg.record) for reg in regs) == ["10.0.2.2", "10.0.2.3"]
    assert len(store) == 2 and store.prefix_count() == 1
    assert [r.etr for r in store.registrations(P("192.168.2.0/24"))] == ["etr1", "etr2"]


def test_refresh_updates_in_place_and_counts_only_answer_changes() -> None:
    store = RegistrationStore()
    assert store.put(registration("10.0.0.0/8", record="x")) is None
    assert store.generation == 1
    first = store.get(P("10.0.0.0/8"), "10.0.1.1")
    refreshed = store.put(registration("10.0.0.0/8", record="x", now=60, expires_at=240))
    assert refreshed is first and first is not None
    assert (first.first_registered, first.last_registered, first.expires_at) == (0, 60, 240)
    assert store.generation == 1  # nothing an answer depends on changed
    store.put(registration("10.0.0.0/8", record="y", now=120, expires_at=300))
    assert store.generation == 2 and first.record == "y"
    store.put(registration("10.0.0.0/8", record="y", now=130, expires_at=310, proxy_reply=True))
    assert store.generation == 3
    store.put(registration("10.0.0.0/8", site="b", record="y", proxy_reply=True))
    assert first.site == "b" and len(store) == 1


def test_expiry_and_next_deadline() -> None:
    store = RegistrationStore()
    assert store.next_deadline() is None
    store.put(registration("10.0.0.0/8"))
    store.put(registration("2001:db8::/32"))
    store.put(registration("11.0.0.0/8", expires_at=100))
    assert store.next_deadline() == 100
    store.put(registration("11.0.0.0/8", now=50, expires_at=230))
    assert store.next_deadline() == 180
    expired = store.expire(180)
    assert [str(reg.prefix) for reg in expired] == ["10.0.0.0/8", "2001:db8::/32"]
    assert store.next_deadline() == 230 and len(store) == 1
    assert store.expire(229) == []
    assert [str(reg.prefix) for reg in store.expire(230)] == ["11.0.0.0/8"]
    assert store.next_deadline() is None


def test_a_refresh_with_an_earlier_deadline_expires_then() -> None:
    """The T bit with a short record TTL can bring a registration's expiry forward."""
    store = RegistrationStore()
    store.put(registration("10.0.0.0/8", expires_at=1000))
    store.put(registration("10.0.0.0/8", now=10, expires_at=70))
    assert store.next_deadline() == 70
    assert [str(r.prefix) for r in store.expire(70)] == ["10.0.0.0/8"]
    assert store.next_deadline() is None and store.expire(1000) == []


def test_lookup_with_now_skips_lapsed_registrations() -> None:
    store = RegistrationStore()
    store.put(registration("10.0.0.0/8", "e1", record="outer", expires_at=500))
    store.put(registration("10.1.0.0/16", "e1", record="inner", expires_at=100))
    store.put(registration("10.1.0.0/16", "e2", record="inner2", expires_at=200))
    found = store.lookup(0, A("10.1.0.1"), now=150)
    assert found is not None and [reg.record for reg in found[1]] == ["inner2"]
    found = store.lookup(0, A("10.1.0.1"), now=250)
    assert found is not None and found[0] == P("10.0.0.0/8")
    assert store.lookup(0, A("10.1.0.1"), now=600) is None
    assert len(store.lookup(0, A("10.1.0.1"))[1]) == 2  # type: ignore[index]


def test_remove_deregisters() -> None:
    store = RegistrationStore()
    store.put(registration("10.0.0.0/8", "e1"))
    store.put(registration("10.0.0.0/8", "e2", expires_at=300))
    store.put(registration("11.0.0.0/8", "e2", site="b", expires_at=190))
    assert store.remove(P("10.0.0.0/8"), "nobody") is None
    removed = store.remove(P("10.0.0.0/8"), "e1")
    assert removed is not None and removed.etr == "e1"
    assert store.remove(P("10.0.0.0/8"), "e1") is None
    assert [r.etr for r in store.registrations(P("10.0.0.0/8"))] == ["e2"]
    assert store.next_deadline() == 190  # e1's deadline went with it
    store.remove(P("10.0.0.0/8"), "e2")
    assert store.lookup(0, A("10.0.0.1")) is None
    assert len(store) == 1 and store.prefix_count() == 1


def test_iteration_in_prefix_order() -> None:
    store = RegistrationStore()
    for text in ["[5]1.0.0.0/8", "2001:db8::/32", "10.0.0.0/8", "9.0.0.0/8"]:
        store.put(registration(text))
    assert [str(reg.prefix) for reg in store] == [
        "9.0.0.0/8",
        "10.0.0.0/8",
        "2001:db8::/32",
        "[5]1.0.0.0/8",
    ]
    assert [p for p, _ in store.items()][1] == P("10.0.0.0/8")


def test_heap_garbage_stays_bounded_under_churn() -> None:
    store = RegistrationStore()
    for cycle in range(50):
        for index in range(100):
            prefix = f"10.{index}.0.0/16"
            store.remove(P(prefix), "e")
            store.put(registration(prefix, "e", now=cycle, expires_at=1000 - cycle))
    assert len(store) == 100
    assert len(store._expiry) <= 2 * len(store) + 64
    assert len(store.expire(1000)) == 100 and len(store) == 0
