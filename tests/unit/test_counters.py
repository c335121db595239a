"""Counters: adds, the journal of what one operation counted, and its replay."""

from __future__ import annotations

from lispstack.core.counters import Counters


def test_journal_records_adds_and_replay_counts_them_again() -> None:
    counters = Counters()
    counters.add("in.ecm")
    counters.start_journal()
    counters.add("out.map-reply")
    counters.add("replies.negative", 2)
    journal = counters.stop_journal()
    assert journal == (("out.map-reply", 1), ("replies.negative", 2))
    counters.add("in.ecm")  # not journalled
    counters.replay(journal)
    assert counters.snapshot() == {"in.ecm": 2, "out.map-reply": 2, "replies.negative": 4}
    counters.start_journal()
    counters.replay(journal)
    assert counters.stop_journal() == journal
    assert counters.stop_journal() == ()
