"""A live reload of a Map-Server (Node.reconfigure): sites and keys added, removed and
rotated, with the registrations checked before and after."""

from __future__ import annotations

from helpers.mapping_messages import (
    ETR_PORT,
    KEY_A,
    KEY_B,
    LISP2,
    LISP3,
    SITES,
    deliver,
    ecm_request,
    mapping_node,
    only_reply,
    record,
    register,
    sends,
)
from lispstack.config import parse_config
from lispstack.core.events import Action, Trace
from lispstack.core.node import Node
from lispstack.wire import verify_raw

NEW_KEY_B = b"site-b-rotated"
SITE_C = """
[[sites]]
name = "site-c"
auth-key = "site-c-secret"
eid-prefixes = ["192.168.3.0/24"]
"""


def _reload(node: Node, text: str, now: float) -> list[Action]:
    return node.reconfigure(parse_config(text, "mapserver.toml"), now)


def _register(
    node: Node,
    eid: str,
    key: bytes,
    *,
    nonce: int,
    now: float,
    source: object = LISP2,
    proxy: bool = False,
) -> list[Action]:
    raw = register((record(eid, 24, LISP2),), key, nonce=nonce, proxy=proxy)
    return deliver(node, raw, now, source=source, port=ETR_PORT)  # type: ignore[arg-type]


def _registered(node: Node, now: float) -> list[str]:
    shown = node.show("registrations", None, now)
    assert isinstance(shown, list)
    return sorted(f"{entry['site']} {entry['eid']}" for entry in shown)


def _rotated(grace: int | None = None) -> str:
    text = SITES.replace('{ id = 0, key = "site-b-secret" }', '{ id = 0, key = "site-b-rotated" }')
    if grace is not None:
        text = text.replace(
            "accept-more-specifics = true",
            f"accept-more-specifics = true\nprevious-key-grace = {grace}",
        )
    return text


def test_an_added_site_registers_and_the_registrations_of_the_others_stay() -> None:
    node = mapping_node()
    _register(node, "192.168.1.0", KEY_A, nonce=1, now=0.0)
    _register(node, "192.168.2.0", KEY_B, nonce=2, now=0.0, source=LISP3)
    assert sends(_register(node, "192.168.3.0", b"site-c-secret", nonce=3, now=1.0)) == []
    assert _reload(node, SITES + SITE_C, 2.0) == []
    assert len(sends(_register(node, "192.168.3.0", b"site-c-secret", nonce=4, now=3.0))) == 1
    assert _registered(node, 3.0) == [
        "site-a 192.168.1.0/24",
        "site-b 192.168.2.0/24",
        "site-c 192.168.3.0/24",
    ]
    first = node.show("registrations", "192.168.1.1", 3.0)
    assert isinstance(first, list) and first[0]["last_registered_s"] == 3.0  # not re-made


def test_a_removed_site_loses_its_registrations_and_its_answers() -> None:
    node = mapping_node(SITES + SITE_C)
    _register(node, "192.168.1.0", KEY_A, nonce=1, now=0.0)
    _register(node, "192.168.3.0", b"site-c-secret", nonce=2, now=0.0, proxy=True)
    # The answer for an EID of site-c is learnt by the resolver's fast path...
    positive, _ = only_reply(deliver(node, ecm_request("192.168.3.1"), 1.0))
    assert positive.records[0].locators
    actions = _reload(node, SITES, 2.0)
    assert [a.event for a in actions if isinstance(a, Trace)] == ["registration-unconfigured"]
    assert node.counters.get("registrations.unconfigured") == 1
    assert _registered(node, 2.0) == ["site-a 192.168.1.0/24"]
    # ... and is not given again once the site is gone.
    negative, _ = only_reply(deliver(node, ecm_request("192.168.3.1", nonce=9), 3.0))
    assert negative.records[0].locators == ()
    assert sends(_register(node, "192.168.3.0", b"site-c-secret", nonce=3, now=4.0)) == []


def test_a_removed_eid_prefix_loses_its_registrations_only() -> None:
    node = mapping_node()
    _register(node, "192.168.1.0", KEY_A, nonce=1, now=0.0)
    _register(node, "192.168.2.0", KEY_B, nonce=2, now=0.0)
    _reload(node, SITES.replace('"192.168.2.0/24", ', ""), 1.0)
    assert _registered(node, 1.0) == ["site-a 192.168.1.0/24"]


def test_a_rotated_key_without_grace_refuses_the_old_key_at_once() -> None:
    node = mapping_node()
    _register(node, "192.168.2.0", KEY_B, nonce=1, now=0.0)
    _reload(node, _rotated(), 1.0)
    assert _registered(node, 1.0) == ["site-b 192.168.2.0/24"]  # kept until it expires
    assert sends(_register(node, "192.168.2.0", KEY_B, nonce=2, now=2.0)) == []
    assert node.counters.get("drop.auth-failure") == 1
    (notify,) = sends(_register(node, "192.168.2.0", NEW_KEY_B, nonce=3, now=3.0))
    assert verify_raw(notify.payload, NEW_KEY_B)


def test_a_rotated_key_with_grace_accepts_both_until_the_grace_ends() -> None:
    node = mapping_node()
    # Accepted before the reload: the refresh shortcut remembers it with the old key.
    _register(node, "192.168.2.0", KEY_B, nonce=1, now=0.0)
    _reload(node, _rotated(grace=60), 10.0)
    (notify,) = sends(_register(node, "192.168.2.0", KEY_B, nonce=2, now=20.0))
    assert verify_raw(notify.payload, KEY_B)  # answered with the key the ETR used
    assert node.counters.get("map-register.previous-key") == 1
    assert len(sends(_register(node, "192.168.2.0", NEW_KEY_B, nonce=3, now=21.0))) == 1
    assert len(sends(_register(node, "192.168.2.0", KEY_B, nonce=4, now=69.0))) == 1
    assert sends(_register(node, "192.168.2.0", KEY_B, nonce=5, now=70.0)) == []
    assert node.counters.get("drop.auth-failure") == 1
    assert len(sends(_register(node, "192.168.2.0", NEW_KEY_B, nonce=6, now=71.0))) == 1


def test_a_second_reload_keeps_the_grace_of_a_key_it_did_not_change() -> None:
    node = mapping_node()
    _reload(node, _rotated(grace=60), 0.0)
    _reload(node, _rotated(grace=60) + SITE_C, 30.0)
    assert len(sends(_register(node, "192.168.2.0", KEY_B, nonce=1, now=59.0))) == 1
    assert sends(_register(node, "192.168.2.0", KEY_B, nonce=2, now=61.0)) == []


def test_an_added_site_changes_the_negative_answers_cached_before() -> None:
    node = mapping_node()
    before, _ = only_reply(deliver(node, ecm_request("192.168.128.1"), 0.0))
    assert before.records[0].eid_mask_len == 17  # no site: the widest prefix outside them
    _reload(node, SITES + SITE_C.replace("192.168.3.0", "192.168.128.0"), 1.0)
    after, _ = only_reply(deliver(node, ecm_request("192.168.128.1", nonce=2), 2.0))
    assert after.records[0].eid_mask_len == 24  # the new site's prefix, nothing registered
