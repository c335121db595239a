"""`lispstack demo` end to end (root), asserted through its --json report; a unique lab name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers.pictures import assert_renders, groups, node_texts, texts
from lispstack.capture import read_capture
from lispstack.lab.state import LAB_ROOT, LabFiles

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")


def _namespaces(lab: str) -> set[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in listing.splitlines() if line.startswith(f"{lab}-")}


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, "demo", "--json", *args], capture_output=True, text=True, timeout=300
    )


def test_every_step_of_the_seed_scenario_holds_and_a_kept_lab_keeps_recording(
    tmp_path: Path,
) -> None:
    """One demo run, kept up afterwards (the tenants demo's test checks that a demo not
    kept removes its lab)."""
    name = f"keep{os.getpid()}"
    capture = tmp_path / "demo.pcapng"
    try:
        result = _demo("--name", name, "--capture", str(capture), "--keep")
        _check_seed_report(result, capture, tmp_path)
        demo_frames = len(read_capture(capture).datagrams)
        assert demo_frames > 0  # written for the demo's last step, readable at once
        status = subprocess.run(
            [LISPSTACK, "lab", "status", "--name", name, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert json.loads(status.stdout)["capture"] == {"file": str(capture), "recording": True}
        ping = subprocess.run(
            [LISPSTACK, "lab", "exec", "--name", name, "lisp1", "--",
             "ping", "-c", "1", "-W", "2", "-I", "192.168.1.1", "192.168.2.1"],
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        assert ping.returncode == 0
    finally:
        down = subprocess.run(
            [LISPSTACK, "lab", "down", "--name", name], capture_output=True, text=True, timeout=120
        )
    assert down.returncode == 0 and str(capture) in down.stdout
    # the file now holds the demo's frames and the ping's, after them
    datagrams = read_capture(capture).datagrams
    assert len(datagrams) > demo_frames
    assert any(d.dport == 4341 and d.timestamp > datagrams[demo_frames - 1].timestamp
               for d in datagrams)  # fmt: skip
    assert not _namespaces(name) and not (LAB_ROOT / name).exists()


def _check_seed_report(
    result: subprocess.CompletedProcess[str], capture: Path, directory: Path
) -> None:
    report = json.loads(result.stdout)
    steps = {s["step"]: s for s in report["steps"]}
    failed = [
        (s["title"], c["check"]) for s in steps.values() for c in s["checks"] if not c["passed"]
    ]
    assert result.returncode == 0 and report["passed"] and not failed, failed
    assert sorted(steps) == [1, 2, 3, 4, 5, 6]
    for step in steps.values():
        assert step["explanation"] and step["commands"] and step["checks"]
        assert len(step["commands"]) == len(step["output"])

    def checks(number: int) -> set[str]:
        return {c["check"] for c in steps[number]["checks"]}

    assert {"192.168.1.0/24 registered by 10.0.1.1 for site-a",
            "192.168.2.0/24 registered by 10.0.2.2 for site-b"} <= checks(1)  # fmt: skip
    assert "lisp1 sent no Map-Request (out.map-request = 0)" in checks(2)
    assert {"lisp1 caches 0.0.0.0/1 natively-forward",
            "the second ping sends no new Map-Request"} <= checks(3)  # fmt: skip
    assert "lisp2 answered lisp1 itself (authoritative Map-Reply from 10.0.2.2)" in checks(4)
    assert "lisp2's registration asks for proxy-reply" in checks(5)
    assert "Wireshark decodes every control and data frame cleanly" in checks(6)
    assert "lisp2 replied straight to lisp1 (10.0.2.2 -> 10.0.1.1, same nonce)" in checks(6)
    timeline = steps[6]["output"][0]
    assert "0.0.0.0/1" in timeline and "ecm/map-request" in timeline
    assert capture.stat().st_size > 0

    pictures = {kind: Path(path) for kind, path in report["pictures"].items()}
    assert pictures == {
        "ladder svg": directory / "demo-ladder.svg",
        "ladder html": directory / "demo-ladder.html",
        "lab svg": directory / "demo-lab.svg",
    }
    ladder = ET.parse(pictures["ladder svg"]).getroot()
    columns = [texts(g)[0] for g in groups(ladder, "column")]
    assert columns[:3] == ["lisp1", "mapserver", "lisp2"]
    labels = [texts(g)[-1] for g in groups(ladder, "arrow")]
    assert any(label.startswith("Map-Register 192.168.1.0/24 RLOC 10.0.1.1") for label in labels)
    assert any(label.startswith("Map-Reply 0.0.0.0/1 natively-forward") for label in labels)
    assert not groups(ladder, "failed")
    assert "data-detail" in pictures["ladder html"].read_text()
    lab = node_texts(ET.parse(pictures["lab svg"]).getroot())
    assert "  registered with 10.0.1.254" in lab["lisp1"]
    assert_renders(pictures["ladder svg"])


def test_demo_leaves_a_running_lab_alone() -> None:
    files = LabFiles(f"busy{os.getpid()}")
    files.claim({"nodes": {}, "hosts": [], "captures": []})  # as if `lab up` had made it
    try:
        result = _demo("--name", files.name)
        assert result.returncode == 1 and "already up" in result.stderr
        assert files.state() is not None  # not torn down
    finally:
        subprocess.run([LISPSTACK, "lab", "down", "--name", files.name], check=True)
    assert not files.directory.exists()
