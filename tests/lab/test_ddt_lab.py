"""`lispstack demo --ddt` end to end on the built-in ddt lab (root), asserted through its
--json report: a cold walk root -> child -> Map-Server -> ETR, the same from the
referral cache, a delegation hole, a dead Map-Server survived; pings between sites on
two Map-Servers; the capture decoded, Wireshark's verdict clean. A unique lab name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")


def test_the_ddt_story_holds_every_check(tmp_path: Path) -> None:
    capture = tmp_path / "ddt.pcapng"
    result = subprocess.run(
        [LISPSTACK, "demo", "--ddt", "--json", "--name", f"ddt{os.getpid()}",
         "--capture", str(capture)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    failed = [(s["title"], c["check"]) for s in report["steps"] for c in s["checks"]
              if not c["passed"]]  # fmt: skip
    assert result.returncode == 0 and report["passed"] and not failed, failed
    checks = {c["check"] for s in report["steps"] for c in s["checks"]}
    assert {
        "root -> ddt-a -> ms1: node-referral 192.168.0.0/22, ms-referral 192.168.2.0/24, "
        "ms-ack 192.168.2.0/24",
        "mr asked 3 nodes, followed 2 referrals, got 1 MS-ACK",
        "mr asked 1 node (ms1), from a cache hit, following no referral",
        "site1 got a negative Map-Reply for 192.168.8.0/21, TTL 15, no RLOC",
        "mr timed out on ms2 and got the MS-ACK from ms1",
        "site2 -> site3: ping answered",
        "root: delegation-hole 192.168.8.0/21",
        "Wireshark decodes every control and data frame cleanly",
    } <= checks
    assert capture.stat().st_size > 0
