"""`lispstack show` text output: `show forwarding` is aligned lines, not a Python dict."""

from __future__ import annotations

from helpers.xtr_fixtures import build_xtr, lisp1_config
from lispstack.cli.tables import render


def test_show_forwarding_is_aligned_label_value_lines() -> None:
    _, itr, _ = build_xtr(lisp1_config())
    shown = itr.show("forwarding", "4.2.2.2", 0.0)
    assert render("forwarding", shown).splitlines() == [
        "destination:  4.2.2.2",
        "source:       192.168.1.1",
        "instance-id:  0",
        "verdict:      map-request",
        "why:          miss: Map-Request to 10.0.1.254",
        "Map-Resolver: 10.0.1.254",
    ]
