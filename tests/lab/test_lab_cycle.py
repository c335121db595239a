"""The lab's life cycle through the CLI (root: namespaces, TUN devices); a unique lab per test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.pictures import assert_renders, groups, node_texts
from lispstack.capture import read_capture
from lispstack.cli.main import main
from lispstack.lab.state import LAB_ROOT

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
SEED = Path(__file__).parents[2] / "src" / "lispstack" / "lab" / "topologies"


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _namespaces(lab: str) -> set[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in listing.splitlines() if line.startswith(f"{lab}-")}


MAPSERVER_INLINE = """forwarding = true
[nodes.config.node]
roles = ["map-server", "map-resolver"]
[[nodes.config.sites]]
name = "site-a"
auth-key = "site-a-secret"
eid-prefixes = ["192.168.1.0/24"]
[[nodes.config.sites]]
name = "site-b"
auth-key = "site-b-secret"
eid-prefixes = ["192.168.2.0/24"]
"""


def _topology(tmp_path: Path, name: str, extra: str = "", key: str = "site-a-secret") -> Path:
    """The seed topology under another name, the Map-Server's config inline, plus `extra`."""
    lisp1 = tmp_path / "lisp1.toml"
    lisp1.write_text((SEED / "seed" / "lisp1.toml").read_text().replace("site-a-secret", key))
    text = (
        (SEED / "seed.toml")
        .read_text()
        .replace('name = "seed"', f'name = "{name}"')
        .replace('config = "seed/lisp1.toml"', f'config = "{lisp1}"')
        .replace('config = "seed/', f'config = "{SEED}/seed/')
        .replace(f'config = "{SEED}/seed/mapserver.toml"\nforwarding = true\n', MAPSERVER_INLINE)
    )
    assert "mapserver.toml" not in text
    path = tmp_path / f"{name}.toml"
    path.write_text(text + extra)
    return path


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"t{os.getpid()}_{request.node.name[5:13]}".replace("-", "_")
    yield name
    assert _run("lab", "down", "--name", name).returncode == 0
    assert not _namespaces(name)
    assert not (LAB_ROOT / name).exists()


HOST = """
[[nodes]]
name = "host"
addresses = ["dum0 172.31.0.1/32"]

[[links]]
a = "host eth0 10.0.9.2/24"
b = "mapserver to-host 10.0.9.1/24"
"""


def test_up_exec_show_status_down(tmp_path: Path, lab: str) -> None:
    capture = tmp_path / "lab.pcapng"
    topology = _topology(tmp_path, lab, HOST)
    up = _run("lab", "up", str(topology), "--capture", str(capture))
    assert up.returncode == 0, up.stderr
    again = _run("lab", "up", str(topology))
    assert again.returncode == 1 and "already up" in again.stderr
    assert _namespaces(lab) == {f"{lab}-{n}" for n in ("lisp1", "mapserver", "lisp2", "host")}

    status = json.loads(_run("lab", "status", "--name", lab, "--json").stdout)
    nodes = {entry["node"]: entry for entry in status["nodes"]}
    assert {n: e.get("running") for n, e in nodes.items()} == {
        "lisp1": True, "mapserver": True, "lisp2": True, "host": None,
    }  # fmt: skip
    assert nodes["lisp1"]["registered"] and nodes["lisp2"]["registered"]
    assert nodes["host"]["kind"] == "host"
    assert status["capture"] == {"file": str(capture), "recording": True}

    ping = _run("lab", "exec", "--name", lab, "lisp1", "--", "ping", "-c", "1", "-W", "2",
                "-I", "192.168.1.1", "192.168.2.1")  # fmt: skip
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert _run("lab", "exec", "--name", lab, "lisp1", "--", "sh", "-c", "exit 7").returncode == 7
    missing = _run("lab", "exec", "--name", lab, "lisp1", "--", "no-such-command", "-x")
    assert missing.returncode == 127
    assert missing.stderr == (
        "lispstack lab: exec: no-such-command: command not found (searched PATH)\n"
    )
    not_executable = _run("lab", "exec", "--name", lab, "lisp1", "--", str(topology))
    assert not_executable.returncode == 126
    assert not_executable.stderr == f"lispstack lab: exec: {topology}: not executable\n"
    dummy = _run("lab", "exec", "--name", lab, "host", "--", "ip", "-j", "addr", "show")
    local = {a["local"] for i in json.loads(dummy.stdout) for a in i["addr_info"]}
    assert "172.31.0.1" in local  # on dum0, or on lo where the kernel has no dummy

    shown = _run("lab", "show", "--name", lab, "mapserver", "registrations", "--json")
    assert {r["eid"] for r in json.loads(shown.stdout)} == {"192.168.1.0/24", "192.168.2.0/24"}
    drawing = tmp_path / "lab.svg"
    drawn = _run("lab", "draw", "--name", lab, str(drawing))
    assert drawn.returncode == 0, drawn.stderr
    svg = ET.parse(drawing).getroot()
    nodes = node_texts(svg)
    assert set(nodes) == {"lisp1", "mapserver", "lisp2", "host"}
    assert nodes["lisp1"][:2] == ["lisp1", "itr, etr"]
    assert "  registered with 10.0.1.254" in nodes["lisp1"]
    assert "  registered with 10.0.2.254" in nodes["lisp2"]
    assert nodes["mapserver"][:2] == ["mapserver", "map-server, map-resolver"]
    assert {"holds 192.168.1.0/24 by 10.0.1.1", "holds 192.168.2.0/24 by 10.0.2.2"} <= set(
        nodes["mapserver"]
    )
    assert nodes["host"] == ["host", "host", "dum0 172.31.0.1/32"]
    assert len(groups(svg, "link")) == 3
    assert_renders(drawing)
    unknown = _run("lab", "show", "--name", lab, "nobody", "statistics")
    assert unknown.returncode == 2 and "no node 'nobody'" in unknown.stderr
    plain = _run("lab", "show", "--name", lab, "host", "statistics")
    assert plain.returncode == 2 and "plain host" in plain.stderr

    # a stray process started with exec is stopped by down, too
    _run("lab", "exec", "--name", lab, "host", "--", "sh", "-c", "sleep 300 >/dev/null 2>&1 &")
    strays = subprocess.run(
        ["ip", "netns", "pids", f"{lab}-host"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert strays
    pids = [e["pid"] for e in status["nodes"] if e.get("pid")]

    down = _run("lab", "down", "--name", lab)
    assert down.returncode == 0 and str(capture) in down.stdout
    assert _run("lab", "down", "--name", lab).returncode == 0  # idempotent
    assert not _namespaces(lab) and not (LAB_ROOT / lab).exists()
    for pid in [*pids, *map(int, strays)]:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    interfaces = {d.interface for d in read_capture(capture).datagrams}
    assert {"to-lisp1", "to-lisp2"} <= interfaces


def test_a_crashed_node_shows_with_its_log(tmp_path: Path, lab: str) -> None:
    assert _run("lab", "up", str(_topology(tmp_path, lab))).returncode == 0
    status = json.loads(_run("lab", "status", "--name", lab, "--json").stdout)
    lisp2 = next(e for e in status["nodes"] if e["node"] == "lisp2")
    os.kill(lisp2["pid"], signal.SIGKILL)
    shown = _run("lab", "status", "--name", lab)
    assert shown.returncode == 1
    assert "STOPPED" in shown.stdout and lisp2["log"] in shown.stdout
    after = json.loads(_run("lab", "status", "--name", lab, "--json").stdout)
    entry = next(e for e in after["nodes"] if e["node"] == "lisp2")
    assert entry["running"] is False and "log_tail" in entry
    assert _run("lab", "draw", "--name", lab, str(tmp_path / "lab.svg")).returncode == 0
    assert node_texts(ET.parse(tmp_path / "lab.svg").getroot())["lisp2"][2] == "STOPPED"
    restarted = _run("lab", "restart", "--name", lab, "lisp2")
    assert restarted.returncode == 0, restarted.stderr
    assert _run("lab", "status", "--name", lab).returncode == 0


def test_an_unregistered_etr_fails_up_and_keeps_its_log(tmp_path: Path, lab: str) -> None:
    topology = _topology(tmp_path, lab, key="a-wrong-key")
    up = _run("lab", "up", str(topology), "--timeout", "3")
    log = LAB_ROOT / lab / "lisp1.log"
    assert up.returncode == 1
    assert "node lisp1 is not registered" in up.stderr and str(log) in up.stderr
    assert log.exists()
    assert not _namespaces(lab) and not (LAB_ROOT / lab / "state.json").exists()
    status = _run("lab", "status", "--name", lab)
    assert status.returncode == 1 and "not up" in status.stderr and str(log) in status.stderr


def test_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    topology = tmp_path / "bad.toml"
    topology.write_text('name = "bad"\n[[nodes]]\nname = "a"\nroutes = ["10.0.0.0/8 to x"]\n')
    result = _run("lab", "up", str(topology))
    assert result.returncode == 2
    assert "bad.toml" in result.stderr and "nodes[0]" in result.stderr
    assert not _namespaces("bad")
    named = _run("lab", "status", "--name", "bad-name")
    assert named.returncode == 2 and "no '-'" in named.stderr


AS_NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
NON_ROOT_COMMANDS = [["demo"], ["lab", "up"], ["lab", "down"]]


def _nobody_can_run_lispstack() -> bool:
    """False when the checkout is not readable by uid 65534 (e.g. it lies in a mode-0700
    directory, as mktemp -d makes them)."""
    probe = [*AS_NOBODY, sys.executable, "-c", "import lispstack.cli.main"]
    return subprocess.run(probe, capture_output=True, timeout=60, check=False).returncode == 0


def _assert_told_root_is_needed(code: int, stderr: str) -> None:
    assert code == 2
    assert "needs root" in stderr and "CAP_NET_ADMIN" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("command", NON_ROOT_COMMANDS)
def test_non_root_is_told_what_is_needed(command: list[str]) -> None:
    if not _nobody_can_run_lispstack():
        pytest.skip("uid 65534 cannot read this checkout; the in-process test below still runs")
    result = subprocess.run(
        [*AS_NOBODY, LISPSTACK, *command], capture_output=True, text=True, timeout=60, check=False
    )
    _assert_told_root_is_needed(result.returncode, result.stderr)


@pytest.mark.parametrize("command", NON_ROOT_COMMANDS)
def test_non_root_is_told_what_is_needed_in_process(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("lispstack.lab.prerequisites.os.geteuid", lambda: 65534)
    code = main(command)
    _assert_told_root_is_needed(code, capsys.readouterr().err)
