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
    ],
)
def test_an_empty_table_reads_as_a_sentence(
    topic: str, arg: str | None, empty: object, text: str
) -> None:
    assert render(topic, empty, arg) == text
