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
