"""Suite-wide markers: root-only tests and tests that need tshark."""

from __future__ import annotations

import os
import shutil

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    in_ci = os.environ.get("CI") == "true"
    not_root = pytest.mark.skip(reason="needs root (network namespaces, TUN devices)")
    no_tshark = pytest.mark.skip(reason="needs tshark (apt-get install tshark)")
    for item in items:
        if "root" in item.keywords and os.geteuid() != 0:
            item.add_marker(not_root)
        # In CI a missing tshark is a failure of the set-up, not a reason to skip.
        if "tshark" in item.keywords and shutil.which("tshark") is None and not in_ci:
            item.add_marker(no_tshark)
