"""Publish/subscribe between real daemons (tests/helpers/convergence_rig.py): an ETR's RLOC
changes by live reload, and the subscribed ITR's map-cache follows at once, with no SMR,
no Map-Request and no TTL expiry."""

from __future__ import annotations

from pathlib import Path

from helpers.convergence_rig import NEW_RLOC, OLD_RLOC, convergence_rig, wait_for


def test_rloc_change_is_published_to_the_subscribed_itr(tmp_path: Path) -> None:
    with convergence_rig(tmp_path, subscribe=True) as rig:
        before = rig.show("lisp1", "statistics")
        (subscription,) = rig.show("ms", "subscriptions")
        assert subscription["eid"] == "192.168.2.0/24" and subscription["itr_rloc"] == "127.0.0.2"
        assert rig.cached_rlocs() == [OLD_RLOC]
        rig.move()
        assert wait_for(lambda: rig.cached_rlocs() == [NEW_RLOC], 10, 0.01)
        after = rig.show("lisp1", "statistics")
        assert after["out.map-request"] == before["out.map-request"] == 1
        assert after.get("in.smr", 0) == 0
        assert after["in.map-notify.publication"] == before["in.map-notify.publication"] + 1
        assert wait_for(lambda: rig.show("ms", "subscriptions")[0]["unacknowledged"] is False)
        assert rig.show("ms", "statistics")["in.map-notify-ack.accepted"] >= 2
        assert rig.show("lisp1", "forwarding", "192.168.2.1")["rloc"] == NEW_RLOC
        decapsulated = rig.show("lisp2", "statistics").get("decap.packets", 0)
        rig.ping()  # nobody answers it; lisp2 decapsulates it
        assert wait_for(lambda: rig.show("lisp2", "statistics")["decap.packets"] > decapsulated)
