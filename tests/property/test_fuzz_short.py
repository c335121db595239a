"""A short run of the mutation fuzzer (fuzz/fuzz_wire.py) inside the suite."""

from __future__ import annotations

import importlib.util
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_wire.py"


def test_fuzz_wire_short_run() -> None:
    spec = importlib.util.spec_from_file_location("fuzz_wire", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    accepted = module.run(iterations=20_000, seed=20261125)
    # Some mutants stay valid messages; all the others were clean DecodeErrors.
    assert 0 < accepted < 40_000
