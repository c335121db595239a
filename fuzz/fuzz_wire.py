"""Mutation fuzzer for the wire decoders: only DecodeError may ever escape.

    python fuzz/fuzz_wire.py --iterations 5000000 --seed 1

The corpus is every frame of the golden captures plus one message of each
type built here; each input is a corpus entry with random byte flips,
insertions, deletions, truncations or splices. Any exception other than
DecodeError is printed with the input's hex and the run exits 1.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from lispstack.capture import read_capture
from lispstack.wire import (
    Action,
    DataPacket,
    DecodeError,
    Ecm,
    EidRecord,
    InstanceId,
    Locator,
    MappingRecord,
    MapRegister,
    MapReply,
    MapRequest,
    decode_control,
)

CAPTURES = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "captures"


def corpus() -> list[bytes]:
    entries = [
        d.payload for path in sorted(CAPTURES.glob("*.pcap")) for d in read_capture(path).datagrams
    ]
    record = MappingRecord(
        eid=InstanceId(7, IPv6Address("2001:db8::")),
        eid_mask_len=32,
        action=Action.NO_ACTION,
        locators=(Locator(address=IPv4Address("10.0.2.2")),),
    )
    request = MapRequest(
        nonce=1,
        itr_rlocs=(IPv4Address("10.0.1.1"),),
        records=(EidRecord(eid=IPv4Address("4.2.2.2"), eid_mask_len=32),),
    )
    entries += [
        MapReply(nonce=2, records=(record,)).encode(),
        Ecm(
            source=IPv4Address("10.0.1.1"),
            destination=IPv4Address("4.2.2.2"),
            source_port=4342,
            message=request,
        ).encode(),
        MapRegister(nonce=3, records=(record,)).signed(b"k")[1],
        bytes.fromhex("c0000001000000014500001c00004000400100000a0000010a0000020800f7ff00000000"),
    ]
    return entries


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        position = rng.randrange(len(buffer) + 1)
        if choice < 0.4 and buffer:
            buffer[min(position, len(buffer) - 1)] = rng.randrange(256)
        elif choice < 0.55:
            buffer[position:position] = bytes([rng.randrange(256)] * rng.randint(1, 8))
        elif choice < 0.7:
            del buffer[position : position + rng.randint(1, 8)]
        elif choice < 0.85:
            del buffer[position:]
        else:
            other = rng.choice(pool)
            buffer[position:] = other[rng.randrange(len(other) + 1) :]
    return bytes(buffer)


def _decode_data(payload: bytes) -> object:
    return DataPacket.decode(payload)


DECODERS: tuple[Callable[[bytes], object], ...] = (decode_control, _decode_data)


def run(iterations: int, seed: int) -> int:
    """Fuzz `iterations` inputs; returns how many decoded without error."""
    rng = random.Random(seed)
    pool = corpus()
    accepted = 0
    for _ in range(iterations):
        payload = mutate(rng, rng.choice(pool), pool)
        for decoder in DECODERS:
            try:
                decoder(payload)
                accepted += 1
            except DecodeError:
                pass
            except Exception as error:  # the very thing this harness hunts
                raise AssertionError(
                    f"{decoder.__name__} raised {error!r} on {payload.hex()}"
                ) from error
    return accepted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    started = time.perf_counter()
    try:
        accepted = run(args.iterations, args.seed)
    except AssertionError as error:
        print(f"seed {args.seed}: {error}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    print(
        f"seed {args.seed}: {args.iterations} inputs, {accepted} decoded, "
        f"no unexpected exception ({args.iterations / elapsed:,.0f} inputs/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
