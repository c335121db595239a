"""The replay window's nonce memory: what it remembers, for how long, and its bounds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.mapping_messages import KEY_B, LISP2, deliver, mapping_node, record, register
from lispstack.core.events import Trace
from lispstack.core.map_server import MapServer
from lispstack.core.replay_window import SLICES, ReplayWindow

WINDOW = 800.0
ETR = ("site-b", "10.0.2.2")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 3), st.floats(0, 300)), min_size=1, max_size=80
    )
)
def test_a_nonce_is_remembered_for_the_window_and_forgotten_soon_after(
    steps: list[tuple[int, int, float]],
) -> None:
    """Against a plain record of every (ETR, nonce, time), bounds not reached."""
    window = ReplayWindow(WINDOW)
    used: dict[tuple[int, int], float] = {}
    now = 0.0
    for nonce, etr, step in steps:
        now += step
        window.forget_expired(now)
        last = used.get((etr, nonce))
        if last is not None and now - last <= WINDOW:
            assert window.seen(etr, nonce)
        if last is not None and now - last > WINDOW + WINDOW / SLICES:
            assert not window.seen(etr, nonce)
        if last is None:
            assert not window.seen(etr, nonce)
        window.add(etr, nonce, now)
        used[(etr, nonce)] = now
    assert window.shortened == 0
    assert len(window) <= len(steps)


def test_past_the_per_etr_bound_the_oldest_nonces_go_first() -> None:
    window = ReplayWindow(WINDOW, max_per_etr=64)
    for nonce in range(1000):
        window.add(ETR, nonce, nonce / 100)
    assert window.seen(ETR, 999) and window.seen(ETR, 999 - 56)
    assert not window.seen(ETR, 0) and not window.seen(ETR, 999 - 80)
    assert 56 <= len(window) <= 64
    assert window.shortened == 1000 // 8 - 8  # slices of 64 // 8 nonces


def test_past_the_total_bound_the_oldest_slices_of_any_etr_go_first() -> None:
    window = ReplayWindow(WINDOW, max_total=100)
    for nonce in range(60):
        window.add("old", nonce, 0.0)
    for nonce in range(60):
        window.add("new", nonce, 1.0 + WINDOW / SLICES)
    assert len(window) == 60
    assert not window.seen("old", 0) and window.seen("new", 0) and window.seen("new", 59)


def test_a_quiet_etr_is_forgotten_after_the_window() -> None:
    window = ReplayWindow(WINDOW)
    window.add(ETR, 1, 0.0)
    window.forget_expired(WINDOW)
    assert window.seen(ETR, 1)
    window.forget_expired(WINDOW + WINDOW / SLICES)
    assert not window.seen(ETR, 1) and len(window) == 0


def test_the_map_server_counts_and_logs_a_shortened_window_once_a_minute() -> None:
    node = mapping_node()
    (server,) = [r for r in node.roles if isinstance(r, MapServer)]
    server._nonces = ReplayWindow(WINDOW, max_per_etr=16)
    traces = []
    for nonce in range(40):
        raw = register((record("192.168.2.0", 24, LISP2),), KEY_B, nonce=nonce)
        actions = deliver(node, raw, float(nonce), source=LISP2)
        traces += [a for a in actions if isinstance(a, Trace) and a.event != "registered"]
    assert node.counters.get("replay-window.shortened") == 40 // 2 - 8
    assert [(t.event, t.fields["site"], t.fields["etr"]) for t in traces] == [
        ("replay-window-shortened", "site-b", "10.0.2.2")
    ]
    assert node.counters.get("map-register.accepted") == 40
