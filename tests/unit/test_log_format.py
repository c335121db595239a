"""The JSON log format: one object per record, a node event's name and fields kept as data."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from ipaddress import IPv4Address

from lispstack.io.log_format import JsonFormatter, event_extra


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("lispstack.test")
    return logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, message, args, None, extra=extra
    )


def test_an_event_keeps_its_name_and_fields() -> None:
    fields = {"reason": "malformed", "source": IPv4Address("127.0.0.1"), "count": 3}
    record = _record("%s %s", "drop", "reason=malformed", **event_extra("drop", fields))
    line = JsonFormatter("ms").format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "info" and entry["node"] == "ms" and entry["event"] == "drop"
    assert entry["logger"] == "lispstack.test"
    assert entry["message"] == "drop reason=malformed"
    assert entry["fields"] == {"reason": "malformed", "source": "127.0.0.1", "count": 3}
    assert datetime.fromisoformat(entry["time"]).utcoffset() is not None


def test_a_plain_record_is_a_log_event_with_its_traceback() -> None:
    try:
        raise ValueError("broken\nacross lines")
    except ValueError:
        record = _record("internal error %s", "handling X")
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter("ms").format(record))
    assert entry["event"] == "log" and entry["fields"] == {}
    assert entry["message"] == "internal error handling X"
    assert "ValueError: broken\nacross lines" in entry["exception"]
