"""A real node with `log-format = "json"`: every line of its log is a JSON object, and a
node event (a dropped datagram) carries its name and fields."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from nodes import free_loopback, start_node, wait_for


def test_a_json_log_is_one_object_per_line_with_the_event_fields(tmp_path: Path) -> None:
    address = free_loopback(71)
    node = start_node(
        tmp_path,
        "ms",
        f'roles = ["map-server"]\nlisten = ["{address}"]\nlog-format = "json"\n'
        '[[sites]]\nname = "a"\nauth-key = "k"\neid-prefixes = ["192.168.1.0/24"]\n',
    )
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"garbage", (address, 4342))
        assert wait_for(lambda: node.show("statistics").get("drop.malformed", 0) == 1)
    finally:
        assert node.stop() == 0
    entries = [json.loads(line) for line in node.log.read_text().splitlines()]
    assert {entry["node"] for entry in entries} == {"ms"}
    assert all({"time", "level", "event", "fields", "message"} <= entry.keys() for entry in entries)
    (drop,) = [entry for entry in entries if entry["event"] == "drop"]
    assert drop["level"] == "info" and drop["logger"] == "lispstack.daemon"
    assert drop["fields"]["reason"] == "malformed"
    assert drop["fields"]["source"] == "127.0.0.1"
    assert entries[-1]["message"] == "node ms stopped"
