"""A short run of the structure-aware fuzzer (fuzz/fuzz_wire.py) inside the suite."""

from __future__ import annotations

import importlib.util
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_wire.py"


def test_fuzz_wire_short_run() -> None:
    spec = importlib.util.spec_from_file_location("fuzz_wire", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tally = module.run(iterations=400, seed=20261202)  # raises AssertionError on a failed check
    assert set(tally.inputs) == set(module.KINDS)
    # Every kind's expectation was checked input by input; these say the mix was real.
    assert tally.decoded["valid"] == tally.inputs["valid"]
    assert tally.decoded["truncated"] == tally.decoded["ecm-in-ecm"] == 0
    assert 0 < tally.decoded["deep-lcaf"] < tally.inputs["deep-lcaf"]
    assert 0 < tally.decoded["mutated"] < tally.inputs["mutated"]
