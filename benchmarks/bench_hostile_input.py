"""CPU per hostile control datagram at a Map-Server/Map-Resolver node (not a test; prints a table).

.venv/bin/python benchmarks/bench_hostile_input.py [--count N]

Each datagram is built to be expensive: LCAFs nested 400 deep in a
Map-Request's source EID (bare and inside an ECM), an ECM inside an ECM, a
Map-Register whose records and locators are at their maximum counts. The
time is Node.handle's, plus formatting the traceback when the node raises
(what the daemon's internal-error log pays). The last column says how the
node ended: a counted drop, an answer, or the exception it raised.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from ipaddress import IPv4Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.hostile_messages import ecm_around, nested_map_request
from helpers.mapping_messages import LISP1, MS, SITES
from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import DatagramReceived, Endpoint
from lispstack.wire import Locator, MappingRecord, MapRegister


def full_register() -> bytes:
    locators = tuple(Locator(address=IPv4Address(0x0A000000 + i)) for i in range(255))
    records = tuple(
        MappingRecord(eid=IPv4Address(0xC0A80100), eid_mask_len=24, locators=locators)
        for _ in range(20)
    )
    return MapRegister(nonce=1, records=records).signed(b"site-a-secret")[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    node = build_node(parse_config(SITES, "ms.toml"), random.Random(1))
    request = nested_map_request(400)
    cases = {
        "Map-Request, source EID 400 LCAFs deep": request,
        "ECM Map-Request, source EID 400 LCAFs deep": ecm_around(request),
        "ECM inside an ECM": ecm_around(ecm_around(nested_map_request(0))),
        "Map-Register, 20 records x 255 locators": full_register(),
    }
    print(f"{'datagram':<44} {'bytes':>6} {'µs each':>10}  outcome")
    for label, payload in cases.items():
        datagram = DatagramReceived(payload, Endpoint(LISP1, 4342), MS)
        outcome = ""
        start = time.perf_counter()
        for _ in range(args.count):
            try:
                actions = node.handle(datagram, 1.0)
                outcome = f"{len(actions)} actions"
            except Exception as error:  # the cost of a crash is what this measures
                traceback.format_exc()
                outcome = f"raised {type(error).__name__}"
        elapsed = time.perf_counter() - start
        print(f"{label:<44} {len(payload):>6} {elapsed / args.count * 1e6:>10,.1f}  {outcome}")
    malformed = node.counters.get("in.malformed")
    print(f"in.malformed: {malformed}")


if __name__ == "__main__":
    main()
