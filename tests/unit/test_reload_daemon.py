"""NodeDaemon.reload: the file read again, checked, applied, reported; refused whole."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path

import pytest

from helpers.mapping_messages import ETR_PORT, KEY_A, LISP2, deliver, record, register
from lispstack.config import load_config
from lispstack.config.reload_changes import describe_changes, fixed_change
from lispstack.io.control_socket import RequestRefused
from lispstack.io.daemon import NodeDaemon

CONFIG = """[node]
name = "reloading"
roles = ["map-server", "map-resolver"]
control-socket = "{directory}/reloading.sock"
log-level = "info"

[[sites]]
name = "site-a"
auth-key = "site-a-secret"
eid-prefixes = ["192.168.1.0/24"]
"""
SITE_B = """
[[sites]]
name = "site-b"
auth-key = "site-b-secret"
eid-prefixes = ["192.168.2.0/24"]
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "reloading.toml"
    path.write_text(CONFIG.format(directory=tmp_path))
    return path


def _daemon(config_file: Path) -> NodeDaemon:
    daemon = NodeDaemon(load_config(config_file))
    raw = register((record("192.168.1.0", 24, LISP2),), KEY_A)
    deliver(daemon.node, raw, time.monotonic(), source=LISP2, port=ETR_PORT)  # the node's clock
    assert _registered(daemon) == ["192.168.1.0/24"]
    return daemon


def _registered(daemon: NodeDaemon) -> list[str]:
    shown = daemon.node.show("registrations", None, time.monotonic())
    assert isinstance(shown, list)
    return [str(entry["eid"]) for entry in shown]


def _reload(daemon: NodeDaemon) -> list[str]:
    async def scenario() -> list[str]:
        return daemon.reload()

    return asyncio.run(scenario())


def test_a_reload_applies_the_file_and_says_what_changed(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", root.level)  # restored after the test
    daemon = _daemon(config_file)
    config_file.write_text(config_file.read_text().replace('"info"', '"debug"') + SITE_B)
    assert _reload(daemon) == ["site site-b added", "log-level info -> debug"]
    assert [site.name for site in daemon.config.sites] == ["site-a", "site-b"]
    assert _registered(daemon) == ["192.168.1.0/24"]
    assert logging.getLogger().level == logging.DEBUG
    assert _reload(daemon) == []  # nothing changed since


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (
            lambda text: text.replace("[[sites]]", "[[sites]"),
            "reload refused: {file}: invalid TOML",
        ),
        (
            lambda text: text.replace('auth-key = "site-a-secret"', ""),
            "reload refused: {file}: sites[0].auth-key: missing required key (or auth-keys)",
        ),
        (
            lambda text: text.replace('"map-server", "map-resolver"', '"map-server"'),
            "reload refused: {file}: node.roles cannot change while the node runs",
        ),
        (
            lambda text: text.replace('log-level = "info"', "workers = 2"),
            "reload refused: {file}: node.workers cannot change while the node runs",
        ),
    ],
    ids=["bad-toml", "config-error", "roles", "workers"],
)
def test_a_refused_reload_leaves_the_node_untouched(
    config_file: Path, edit: object, error: str
) -> None:
    daemon = _daemon(config_file)
    running = daemon.config
    sites = daemon.node.show("sites", None, 0.0)
    config_file.write_text(edit(config_file.read_text()) + SITE_B)  # type: ignore[operator]
    with pytest.raises(RequestRefused) as refused:
        _reload(daemon)
    assert str(refused.value).startswith(error.format(file=config_file))
    assert "\n" not in str(refused.value)
    assert daemon.config is running
    assert daemon.node.show("sites", None, 0.0) == sites
    assert _registered(daemon) == ["192.168.1.0/24"]


def test_systemd_hears_reloading_then_ready(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(tmp_path / "notify"))
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        daemon = _daemon(config_file)
        config_file.write_text(config_file.read_text() + SITE_B)
        _reload(daemon)
        systemd.settimeout(1.0)
        first, second = systemd.recv(4096).decode(), systemd.recv(4096).decode()
    assert first.startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert second.startswith("READY=1\n")


def test_every_kind_of_change_is_named(config_file: Path) -> None:
    before = load_config(config_file)
    text = config_file.read_text()
    config_file.write_text(
        text.replace("site-a-secret", "rotated").replace("192.168.1.0/24", "192.168.9.0/24")
    )
    after = load_config(config_file)
    assert fixed_change(before, after) is None
    assert describe_changes(before, after) == ["site site-a changed", "site site-a: key 0 rotated"]
    assert describe_changes(after, after) == []
