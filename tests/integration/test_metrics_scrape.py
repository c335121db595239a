"""A real node's `metrics` endpoint: a scrape over loopback, parsed with Prometheus's text
parser, says what `show statistics` says (summed across workers); a taken address is one
line at start."""

from __future__ import annotations

import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest
from nodes import LISPSTACK, free_loopback, start_node, wait_for
from prometheus_client.parser import text_string_to_metric_families

from lispstack.io.metrics import counter_metric

NODE = (
    'roles = ["map-server", "map-resolver"]\nlisten = ["{address}"]\nworkers = {workers}\n'
    'metrics = "{address}:9100"\n'
    '[[sites]]\nname = "a"\nauth-key = "k"\neid-prefixes = ["192.168.1.0/24"]\n'
)


def _scrape(address: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://{address}:9100/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _ask(address: str, request: bytes) -> bytes:
    with socket.create_connection((address, 9100), timeout=10) as client:
        client.sendall(request)
        return client.recv(4096)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_scrape_says_what_show_statistics_says(tmp_path: Path, workers: int) -> None:
    address = free_loopback(81)
    node = start_node(tmp_path, "ms", NODE.format(address=address, workers=workers))
    try:
        for _ in range(3):  # from 3 source ports: with workers, several take a share
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.sendto(b"garbage", (address, 4342))
        for _ in range(4):
            lig = [LISPSTACK, "lig", "192.168.1.1", "--map-resolver", address]
            subprocess.run(lig, capture_output=True, timeout=30, check=True)
        assert wait_for(lambda: node.show("statistics").get("drop.malformed", 0) == 3)
        assert _ask(address, b"garbage\r\n\r\n").startswith(b"HTTP/1.0 400 ")
        assert _ask(address, b"GET /other HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.0 404 ")
        samples = _scrape(address)
        statistics = node.show("statistics")
    finally:
        assert node.stop() == 0
    assert statistics["drop.malformed"] == 3 and statistics["in.ecm"] >= 4
    for counter, value in statistics.items():
        name, labels = counter_metric(counter)
        assert samples[(f"{name}_total", labels)] == value, counter
    counted = {
        key for key in samples if key[0].startswith("lispstack_") and key[0].endswith("_total")
    }
    assert len(counted) == len(statistics)  # nothing else, nothing twice
    assert samples[("lispstack_registrations", ())] == 0
    roles = {labels for name, labels in samples if name == "lispstack_role_info"}
    assert roles == {
        (("node", "ms"), ("role", "map-server")),
        (("node", "ms"), ("role", "map-resolver")),
    }
    assert samples[("process_open_fds", ())] > 0


def test_a_taken_metrics_address_is_one_line(tmp_path: Path) -> None:
    address = free_loopback(82)
    config = tmp_path / "ms.toml"
    config.write_text(
        f'[node]\nname = "ms"\ncontrol-socket = "{tmp_path / "ms.sock"}"\n'
        + NODE.format(address=address, workers=1)
    )
    with socket.create_server((address, 9100)):
        result = subprocess.run(
            [LISPSTACK, "run", str(config)], capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"lispstack: ms: cannot start: metrics {address}:9100: cannot listen: "
        "Address already in use"
    )
    assert not (tmp_path / "ms.sock").exists()
