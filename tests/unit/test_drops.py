"""Drops are all counted, and logged once per reason per interval, with a summary."""

from __future__ import annotations

from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder


def test_a_flood_from_many_sources_is_logged_once_per_reason_and_fully_counted() -> None:
    counters = Counters()
    drops = DropRecorder(counters, interval=60.0)
    traces = []
    for index in range(10_000):
        traces += drops.drop("malformed", f"10.{index // 250}.{index % 250}.1", 1.0 + index / 1e6)
        traces += drops.drop("unexpected-map-reply", f"10.0.0.{index % 250}", 1.0)
    assert [t.fields["reason"] for t in traces] == ["malformed", "unexpected-map-reply"]
    assert counters.get("drop.malformed") == counters.get("drop.unexpected-map-reply") == 10_000


def test_the_first_line_after_the_interval_says_how_many_were_left_out() -> None:
    drops = DropRecorder(Counters(), interval=60.0)
    assert drops.drop("malformed", "a", 0.0, "short header")[0].fields == {
        "reason": "malformed",
        "source": "a",
        "detail": "short header",
    }
    for _ in range(5):
        assert drops.drop("malformed", "b", 30.0) == []
    (trace,) = drops.drop("malformed", "c", 61.0)
    assert trace.fields == {"reason": "malformed", "source": "c", "suppressed": 5}
    assert drops.drop("malformed", "c", 62.0) == []


def test_summary_reports_a_reason_gone_quiet_once_its_interval_has_passed() -> None:
    drops = DropRecorder(Counters(), interval=60.0)
    drops.drop("malformed", "a", 0.0)
    drops.drop("malformed", "a", 1.0)
    drops.drop("malformed", "a", 2.0)
    drops.drop("bad-auth", "a", 0.0)  # logged, nothing left out
    assert drops.summary(59.0) == []
    (trace,) = drops.summary(60.0)
    assert (trace.event, trace.fields) == ("drops-suppressed", {"reason": "malformed", "count": 2})
    assert drops.summary(200.0) == []
    assert drops.drop("malformed", "a", 70.0) == []  # the summary opened a new interval
