"""Refreshes from remembered Map-Registers do exactly what the general path does."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

import lispstack.core.node
from helpers.mapping_messages import (
    KEY_A,
    KEY_B,
    LISP1,
    LISP2,
    LISP3,
    SITES,
    deliver,
    general_path_node,
    record,
    register,
)
from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import Action, SendDatagram, Trace
from lispstack.core.map_server import MapServer
from lispstack.core.node import Node
from lispstack.core.register_refresh import message_digest
from lispstack.wire import AlgorithmId, decode_control


def _map_server(node: Node) -> MapServer:
    (role,) = [r for r in node.roles if isinstance(r, MapServer)]
    return role


def _outcome(actions: list[Action]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for action in actions:
        if isinstance(action, SendDatagram):
            out.append((action.payload.hex(), str(action.destination)))
        elif isinstance(action, Trace):
            out.append((action.event, sorted((k, str(v)) for k, v in action.fields.items())))
    return out


def _state(node: Node) -> tuple[int, list[tuple[object, ...]]]:
    """The store's generation, and every field of every registration."""
    store = _map_server(node).registrations
    fields = [
        (str(p), r.etr, r.site, r.record, r.registered_by, r.proxy_reply, r.xtr_id, r.nonce)
        for p, r in store.items()
    ]
    times = [(r.first_registered, r.last_registered, r.expires_at) for _, r in store.items()]
    return store.generation, [(*f, *t) for f, t in zip(fields, times, strict=True)]


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """The payloads the general path decoded."""
    seen: list[bytes] = []
    real = lispstack.core.node.decode_control

    def counting(payload: bytes, **options: Any) -> object:
        seen.append(payload)
        return real(payload, **options)

    monkeypatch.setattr(lispstack.core.node, "decode_control", counting)
    yield seen


def test_refresh_path_agrees_with_the_general_path(decodes: list[bytes]) -> None:
    fast = build_node(parse_config(SITES, "mapserver.toml"), random.Random(1))
    general = general_path_node()
    two = [record("192.168.2.0", 25, LISP2), record("192.168.2.128", 25, LISP2)]
    by_ttl = [record("192.168.2.0", 26, LISP3, ttl=10)]

    def refresh(nonce: int) -> bytes:
        return register(two, KEY_B, nonce=nonce, proxy=True)

    with_xtr_id = register(by_ttl, KEY_B, nonce=50, ttl_timeout=True, xtr_id=0xFEED)
    forged = bytearray(refresh(7))
    forged[20] ^= 1
    steps: list[tuple[float, bytes, object, bool]] = [
        # (time, message, source, whether the refresh path takes it)
        (0.0, refresh(1), LISP2, False),  # first registration: general
        (10.0, refresh(2), LISP2, True),
        (11.0, refresh(2), LISP2, False),  # a replayed nonce: the general path drops it
        (12.0, bytes(forged), LISP2, False),  # a failed HMAC: dropped by the general path
        (13.0, refresh(3), LISP3, False),  # same bytes from another ETR
        (14.0, register(two, KEY_B, nonce=4, want_map_notify=False, proxy=True), LISP2, False),
        (15.0, register(two, KEY_B, nonce=5, want_map_notify=False, proxy=True), LISP2, True),
        (20.0, with_xtr_id, LISP3, False),
        (30.0, register(by_ttl, KEY_B, nonce=51, ttl_timeout=True, xtr_id=0xFEED), LISP3, True),
        (40.0, register([record("192.168.2.0", 25, LISP2, ttl=0)], KEY_B, nonce=6), LISP2, False),
        (41.0, refresh(8), LISP2, False),  # its registration was removed: general
        (42.0, refresh(9), LISP2, True),
        (43.0, register([record("192.168.1.0", 24, LISP1)], KEY_A, nonce=1), LISP1, False),
        (44.0, register([record("192.168.1.0", 24, LISP1)], KEY_A, nonce=2), LISP1, True),
        # Other RLOCs for the same prefix, then the first message again: it must not
        # bring back its registration's lifetime without its RLOCs.
        (45.0, register([record("192.168.1.0", 24, LISP3)], KEY_A, nonce=3), LISP1, False),
        (46.0, register([record("192.168.1.0", 24, LISP1)], KEY_A, nonce=4), LISP1, False),
        (47.0, register([record("192.168.1.0", 24, LISP1)], KEY_A, nonce=5), LISP1, True),
        # Only the P bit changes, and back.
        (
            48.0,
            register([record("192.168.1.0", 24, LISP1)], KEY_A, nonce=6, proxy=True),
            LISP1,
            False,
        ),
        (49.0, register([record("192.168.1.0", 24, LISP1)], KEY_A, nonce=7), LISP1, False),
        # The same xTR-ID from another source RLOC.
        (50.0, register(by_ttl, KEY_B, nonce=52, ttl_timeout=True, xtr_id=0xFEED), LISP2, False),
        (51.0, register(by_ttl, KEY_B, nonce=53, ttl_timeout=True, xtr_id=0xFEED), LISP3, False),
    ]
    for now, message, source, refreshed in steps:
        decodes.clear()
        fast_actions = deliver(fast, message, now, source=source)  # type: ignore[arg-type]
        assert (not decodes) == refreshed, (now, decodes)
        general_actions = deliver(general, message, now, source=source)  # type: ignore[arg-type]
        assert _outcome(fast_actions) == _outcome(general_actions), now
        assert fast.counters.snapshot() == general.counters.snapshot(), now
        assert _state(fast) == _state(general), now
    # Expiry, then the same message once more: registered anew on both.
    for node in (fast, general):
        node.on_timer(1000.0)
    decodes.clear()
    fast_actions = deliver(fast, refresh(10), 1000.0, source=LISP2)
    assert decodes, "an expired registration is not refreshed from memory"
    assert _outcome(fast_actions) == _outcome(deliver(general, refresh(10), 1000.0, source=LISP2))
    assert fast.counters.snapshot() == general.counters.snapshot()
    assert _state(fast) == _state(general)
    assert fast.counters.get("registrations.refreshed") > 5
    # The resolver answers from the same registrations on both.
    for node in (fast, general):
        assert (
            _map_server(node).registrations.generation
            == _map_server(general).registrations.generation
        )


def test_digest_ignores_nonce_and_authentication_data_only() -> None:
    records = [record("192.168.2.0", 25, LISP2)]
    first = register(records, KEY_B, nonce=1)
    assert message_digest(first) == message_digest(register(records, KEY_B, nonce=2))
    assert message_digest(first) != message_digest(register(records, KEY_A, nonce=1, key_id=7))
    sha1 = register(records, KEY_B, nonce=1, algorithm=AlgorithmId.HMAC_SHA_1_96)
    assert message_digest(first) != message_digest(sha1)
    assert message_digest(first) != message_digest(register(records, KEY_B, proxy=True))
    assert message_digest(first[:20]) is None
    assert decode_control(first).nonce == 1  # type: ignore[union-attr]
