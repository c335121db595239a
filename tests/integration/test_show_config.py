"""`show config`: the running node's configuration as TOML that reads back to the same."""

from __future__ import annotations

import subprocess
from pathlib import Path

from nodes import LISPSTACK, free_loopback, start_node

from lispstack.config import load_config, parse_config


def test_show_config_is_the_running_configuration(tmp_path: Path) -> None:
    node = start_node(
        tmp_path,
        "ms",
        f'roles = ["map-server"]\nlisten = ["{free_loopback(91)}"]\nlog-format = "json"\n'
        '[[sites]]\nname = "a"\nauth-key = "k"\neid-prefixes = ["192.168.1.0/24"]\n',
    )
    try:
        shown = subprocess.run(
            [LISPSTACK, "show", "--socket", str(node.socket), "config"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    finally:
        assert node.stop() == 0
    assert shown.startswith('[node]\nname = "ms"\n')
    assert parse_config(shown, "shown") == load_config(node.config)
