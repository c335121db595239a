"""`lispstack demo --multihoming` and `--mobility` end to end (root), asserted through
their --json reports; unique lab names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")


def _demo(story: str, name: str, capture: Path) -> dict[str, Any]:
    result = subprocess.run(
        [LISPSTACK, "demo", "--json", story, "--name", name, "--capture", str(capture)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    failed = [
        (s["title"], c["check"]) for s in report["steps"] for c in s["checks"] if not c["passed"]
    ]
    assert result.returncode == 0 and report["passed"] and not failed, failed
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not [line for line in listing.splitlines() if line.startswith(f"{name}-")]
    assert capture.exists()
    return report


def _checks(report: dict[str, Any]) -> set[str]:
    return {c["check"] for s in report["steps"] for c in s["checks"]}


def test_multihoming_story_fails_over_and_back(tmp_path: Path) -> None:
    report = _demo("--multihoming", f"mh{os.getpid()}", tmp_path / "mh.pcapng")
    assert len(report["steps"]) == 5
    checks = _checks(report)
    assert {
        "lisp1 marks 10.0.2.2 down, 10.0.3.2 stays up",
        "lisp1 now encapsulates to 10.0.3.2",
        "lisp1 marks 10.0.2.2 up again",
        "lisp1 encapsulates to 10.0.2.2 again",
        "lisp2 registered 10.0.2.2 with the R bit clear (the Map-Server's registration)",
        "lisp2 registered 10.0.2.2 with the R bit set (the Map-Server's registration)",
        "lisp2 sent lisp1 an SMR; lisp1 asked the mapping system again",
        "lisp2 sent SMRs to lisp1 (Map-Request with the S bit), listing only its usable "
        "ITR-RLOC 10.0.3.2 while eth0 was down",
        "Wireshark decodes every control and data frame cleanly",
    } <= checks
    assert any(c.startswith("the stream came back: ") for c in checks)


def test_mobility_story_traffic_follows_the_host(tmp_path: Path) -> None:
    report = _demo("--mobility", f"mob{os.getpid()}", tmp_path / "mob.pcapng")
    assert len(report["steps"]) == 5
    checks = _checks(report)
    assert {
        "192.168.1.10/32 registered by 10.0.1.1 for mobile",
        "192.168.1.10/32 registered by 10.0.3.3 for mobile",
        "lisp2 caches 192.168.1.10/32 -> 10.0.3.3",
        "fd00:1::10/128 registered by 10.0.1.1 for mobile",
        "fd00:1::10/128 registered by 10.0.3.3 for mobile",
        "lisp2 caches fd00:1::10/128 -> 10.0.3.3",
        "xtra SMRed lisp2 (Map-Request with the S bit, source EID 192.168.1.10)",
        "Wireshark decodes every control and data frame cleanly",
    } <= checks
