"""The node's log: text lines for people, or one JSON object per line for log shippers.

A node event (a core Trace) is logged with `extra=event_extra(...)`: the text
format shows it as "event key=value ...", the JSON format keeps its name and
fields as data.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from lispstack.config.model import LogFormat

EVENT = "lispstack_event"
FIELDS = "lispstack_fields"
"""LogRecord attributes set through `extra` (prefixed: `extra` must not reuse a
LogRecord attribute)."""


def event_extra(event: str, fields: Mapping[str, object]) -> dict[str, object]:
    return {EVENT: event, FIELDS: fields}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, node, logger, event, message, fields,
    and exception (the traceback) when there is one. Values JSON has no type for
    (addresses, prefixes) are written as their text."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self._node = node

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "node": self._node,
            "logger": record.name,
            "event": getattr(record, EVENT, "log"),
            "message": record.getMessage(),
            "fields": dict(getattr(record, FIELDS, {})),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(node: str, level: str, log_format: LogFormat) -> None:
    """The root logger: `level` (a logging level name) to stderr in `log_format`. As
    logging.basicConfig, a root logger that has handlers (a test's) keeps them."""
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter(node))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s {node} %(levelname)s %(name)s: %(message)s")
        )
    root.addHandler(handler)
