"""Internal-error tracebacks are rate-limited: the first in full, then a count per interval."""

from __future__ import annotations

import logging

import pytest

from lispstack.io.daemon import ErrorLog


def _fail(errors: ErrorLog, what: str, now: float) -> None:
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        errors.record(what, now)


def test_the_first_traceback_is_logged_then_a_count_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors = ErrorLog(interval=60.0)
    with caplog.at_level(logging.INFO, logger="lispstack.daemon"):
        for index in range(1000):
            _fail(errors, "handling DatagramReceived", index / 100)
        errors.summary(59.0)
        assert len(caplog.records) == 1 and caplog.records[0].exc_info is not None
        _fail(errors, "answering from the cache", 30.0)
        errors.summary(60.0)
        errors.summary(200.0)  # nothing more left out: nothing said
    messages = [record.getMessage() for record in caplog.records[1:]]
    assert messages == [
        "internal error handling DatagramReceived: 999 more since the last report",
        "internal error answering from the cache: 1 more since the last report",
    ]
    assert all(record.exc_info is None for record in caplog.records[1:])
