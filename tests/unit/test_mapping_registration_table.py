"""RegistrationTable (generic) and the Map-Server's RegistrationStore built on it."""

from __future__ import annotations

from ipaddress import IPv4Address

from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.registration_table import RegistrationTable
from lispstack.mapping.registrations import Registration, RegistrationStore

P = EidPrefix.parse
A = IPv4Address


def test_several_etrs_of_one_site_merge() -> None:
    table: RegistrationTable[list[str]] = RegistrationTable()
    table.register("site-b", P("192.168.2.0/24"), b"etr1", ["10.0.2.2"], now=0, expires_at=180)
    table.register("site-b", P("192.168.2.0/24"), b"etr2", ["10.0.2.3"], now=1, expires_at=181)
    found = table.lookup(0, A("192.168.2.1"))
    assert found is not None
    prefix, regs = found
    assert prefix == P("192.168.2.0/24")
    assert sorted(rloc for reg in regs for rloc in reg.data) == ["10.0.2.2", "10.0.2.3"]
    assert len(table) == 2 and table.prefix_count() == 1
    assert table.sites() == {"site-b"}


def test_refresh_keeps_first_registration_and_counts_changes() -> None:
    table: RegistrationTable[str] = RegistrationTable()
    first, previous = table.register("a", P("10.0.0.0/8"), "etr", "x", now=0, expires_at=180)
    assert previous is None and table.generation == 1
    second, previous = table.register("a", P("10.0.0.0/8"), "etr", "x", now=60, expires_at=240)
    assert previous == first
    assert (second.registered_at, second.last_seen, second.expires_at) == (0, 60, 240)
    assert table.generation == 1  # nothing an answer depends on changed
    table.register("a", P("10.0.0.0/8"), "etr", "y", now=120, expires_at=300)
    assert table.generation == 2
    assert len(table) == 1


def test_expiry_and_next_deadline() -> None:
    table: RegistrationTable[str] = RegistrationTable()
    assert table.next_deadline() is None
    table.register("a", P("10.0.0.0/8"), "e1", "x", now=0, expires_at=180)
    table.register("a", P("2001:db8::/32"), "e1", "x", now=0, expires_at=180)
    table.register("a", P("11.0.0.0/8"), "e1", "x", now=0, expires_at=100)
    assert table.next_deadline() == 100
    table.register("a", P("11.0.0.0/8"), "e1", "x", now=50, expires_at=230)
    assert table.next_deadline() == 180
    expired = table.expire(180)
    assert sorted(str(reg.prefix) for reg in expired) == ["10.0.0.0/8", "2001:db8::/32"]
    assert table.next_deadline() == 230 and len(table) == 1
    assert table.expire(229) == []


def test_lookup_with_now_skips_lapsed_registrations() -> None:
    table: RegistrationTable[str] = RegistrationTable()
    table.register("a", P("10.0.0.0/8"), "e1", "outer", now=0, expires_at=500)
    table.register("a", P("10.1.0.0/16"), "e1", "inner", now=0, expires_at=100)
    table.register("a", P("10.1.0.0/16"), "e2", "inner2", now=0, expires_at=200)
    found = table.lookup(0, A("10.1.0.1"), now=150)
    assert found is not None and [reg.data for reg in found[1]] == ["inner2"]
    found = table.lookup(0, A("10.1.0.1"), now=250)
    assert found is not None and found[0] == P("10.0.0.0/8")
    assert table.lookup(0, A("10.1.0.1"), now=600) is None
    assert len(table.lookup(0, A("10.1.0.1"))[1]) == 2  # type: ignore[index]
    assert [reg.data for reg in table.registrations(P("10.1.0.0/16"), now=150)] == ["inner2"]


def test_remove_deregisters() -> None:
    table: RegistrationTable[str] = RegistrationTable()
    table.register("a", P("10.0.0.0/8"), "e1", "x", now=0, expires_at=180)
    table.register("b", P("11.0.0.0/8"), "e2", "x", now=0, expires_at=180)
    assert table.remove("a", P("10.0.0.0/8"), "nobody") is None
    removed = table.remove("a", P("10.0.0.0/8"), "e1")
    assert removed is not None and removed.site == "a"
    assert table.lookup(0, A("10.0.0.1")) is None
    assert table.next_deadline() == 180  # b's registration
    assert [reg.site for reg in table.remove_site("b")] == ["b"]
    assert len(table) == 0 and table.next_deadline() is None


def test_iteration_in_prefix_order() -> None:
    table: RegistrationTable[int] = RegistrationTable()
    for index, text in enumerate(["[5]1.0.0.0/8", "2001:db8::/32", "10.0.0.0/8", "9.0.0.0/8"]):
        table.register("s", P(text), "e", index, now=0, expires_at=180)
    assert [str(reg.prefix) for reg in table] == [
        "9.0.0.0/8",
        "10.0.0.0/8",
        "2001:db8::/32",
        "[5]1.0.0.0/8",
    ]


def _registration(site: str, record: str, expires_at: float) -> Registration:
    return Registration(
        site=site,
        record=record,  # type: ignore[arg-type]  # any comparable object stands in here
        registered_by="10.0.1.1",
        proxy_reply=False,
        xtr_id=None,
        nonce=1,
        first_registered=0,
        last_registered=0,
        expires_at=expires_at,
    )


def test_store_mixed_families_expiring_together() -> None:
    """One Map-Register with an IPv4 and an IPv6 record: equal deadlines must not crash."""
    store = RegistrationStore()
    store.put(P("192.168.1.0/24"), "10.0.1.1", _registration("a", "r4", 180))
    store.put(P("2001:db8:1::/48"), "10.0.1.1", _registration("a", "r6", 180))
    assert len(store) == 2 and store.next_deadline() == 180
    assert sorted(str(reg.record) for reg in store.expire(180)) == ["r4", "r6"]
    assert len(store) == 0


def test_store_keys_by_prefix_and_etr() -> None:
    store = RegistrationStore()
    store.put(P("192.168.1.0/24"), "etr", _registration("a", "r1", 180))
    generation = store.generation
    store.put(P("192.168.1.0/24"), "etr", _registration("a", "r1", 240))
    assert store.generation == generation
    store.put(P("192.168.1.0/24"), "etr", _registration("b", "r2", 240))
    assert store.generation > generation
    assert len(store) == 1
    found = store.get(P("192.168.1.0/24"), "etr")
    assert found is not None and found.site == "b"
    looked_up = store.lookup(0, A("192.168.1.7"))
    assert looked_up is not None and [reg.site for reg in looked_up[1]] == ["b"]
    assert [prefix for prefix, _ in store.items()] == [P("192.168.1.0/24")]
    assert store.remove(P("192.168.1.0/24"), "etr") == found
    assert store.remove(P("192.168.1.0/24"), "etr") is None
    assert store.lookup(0, A("192.168.1.7")) is None
