"""`lispstack show` text when a table is empty: one plain sentence per topic."""

from __future__ import annotations

import pytest

from lispstack.cli.tables import render


@pytest.mark.parametrize(
    ("topic", "arg", "empty", "text"),
    [
        ("map-cache", None, [], "the map-cache is empty"),
        ("map-cache", "192.168.9.9", [], "no map-cache entry covers 192.168.9.9"),
        ("database", None, [], "no database mappings"),
        ("registrations", None, [], "no registrations"),
        ("registrations", "192.168.9.9", [], "no registration covers 192.168.9.9"),
        ("sites", None, [], "no sites"),
        ("statistics", None, {}, "no counters"),
        ("referral-cache", None, [], "the referral cache is empty"),
    ],
)
def test_an_empty_table_reads_as_a_sentence(
    topic: str, arg: str | None, empty: object, text: str
) -> None:
    assert render(topic, empty, arg) == text


def test_the_referral_cache_is_a_table() -> None:
    entry = {
        "eid": "10.1.0.0/16",
        "iid": 7,
        "action": "ms-referral",
        "expires_in_s": 59.6,
        "incomplete": False,
        "referrals": [{"address": "10.0.0.1", "priority": 1, "weight": 100}],
    }
    lines = render("referral-cache", [entry]).splitlines()
    assert lines[0].split() == ["EID", "prefix", "action", "expires", "incomplete", "referrals"]
    assert lines[1].split() == ["[7]10.1.0.0/16", "ms-referral", "60s", "no", "10.0.0.1", "1/100"]


def test_a_dynamic_prefix_reads_as_such_in_the_database() -> None:
    rlocs = [{"address": "10.0.1.1", "priority": 1, "weight": 100, "local": True}]
    session = {"map_server": "10.0.1.254", "state": "registered"}
    entries = [
        {"eid": "192.168.1.0/24", "iid": 0, "rlocs": rlocs, "dynamic": True,
         "registrations": [session]},
        {"eid": "192.168.1.10/32", "iid": 0, "rlocs": rlocs, "dynamic_host": True,
         "registrations": [session]},
    ]  # fmt: skip
    lines = render("database", entries).splitlines()
    assert lines[1].startswith("192.168.1.0/24") and "dynamic: its hosts are registered" in lines[1]
    assert lines[2].startswith("192.168.1.10/32") and "10.0.1.254: registered" in lines[2]
