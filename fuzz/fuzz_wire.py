"""Fuzzer for the wire decoders: only DecodeError may ever escape.

    python fuzz/fuzz_wire.py --iterations 5000000 --seed 1
    python fuzz/fuzz_wire.py --engine atheris --iterations 5000000 --seed 1

The corpus is every frame of the golden captures plus one message of each
type built here. The default engine mutates a corpus entry with random byte
flips, insertions, deletions, truncations or splices; any exception other
than DecodeError is printed with the input's hex and the run exits 1. With
`--engine atheris` (pip install atheris) libFuzzer drives coverage-guided
mutations from the same corpus and writes any crashing input to crash-*.
Every input goes to decode_control (which covers the ECM and its inner
message) and to the data-plane decoder.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import tempfile
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from lispstack.capture import read_capture
from lispstack.wire import (
    Action,
    AfiList,
    DataPacket,
    DecodeError,
    DistinguishedName,
    Ecm,
    EidRecord,
    ExplicitLocatorPath,
    Hop,
    InfoReply,
    InfoRequest,
    InstanceId,
    Locator,
    MacAddress,
    MapNotify,
    MapNotifyAck,
    MappingRecord,
    MapReferral,
    MapRegister,
    MapReply,
    MapRequest,
    NatTraversal,
    OpaqueLcaf,
    ReferralAction,
    ReferralRecord,
    SourceDestKey,
    XtrId,
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
    return entries + _more_messages(record)


def _more_messages(record: MappingRecord) -> list[bytes]:
    """One of every other message type, with every LCAF kind somewhere."""
    v4, v6 = IPv4Address("10.0.1.1"), IPv6Address("2001:db8::1")
    nat = NatTraversal(61000, 4341, v4, IPv4Address("10.0.1.254"), v4, (v6,))
    odd = MappingRecord(
        eid=SourceDestKey(v4, 8, IPv4Address("10.2.0.0"), 16),
        eid_mask_len=0,
        locators=(
            Locator(address=AfiList((v4, v6, MacAddress(bytes(6))))),
            Locator(address=ExplicitLocatorPath((Hop(v4, lookup=True), Hop(v6, strict=True)))),
            Locator(address=nat),
            Locator(address=OpaqueLcaf(13, 0, 0, 0, b"opaque")),
            Locator(address=DistinguishedName("rloc")),
        ),
    )
    referral = ReferralRecord(
        eid=v4, eid_mask_len=32, action=ReferralAction.MS_ACK, referrals=(Locator(address=v6),)
    )
    request = MapRequest(
        nonce=4,
        itr_rlocs=(v4, v6),
        records=(EidRecord(eid=InstanceId(9, MacAddress(bytes(6))), eid_mask_len=48),),
        map_reply_record=odd,
        xtr_id=XtrId(1, 2),
    )
    return [
        request.encode(),
        Ecm(source=v6, destination=v6, source_port=61000, message=request).encode(),
        MapNotify(nonce=5, records=(record, odd), xtr_id=XtrId(3, 4), i_bit=True).signed(b"k")[1],
        MapNotifyAck(nonce=5, records=(record,)).signed(b"k")[1],
        MapReferral(nonce=6, records=(referral,)).encode(),
        InfoRequest(nonce=7, eid=DistinguishedName("vm"), eid_mask_len=0).encode(),
        InfoReply(nonce=7, eid=v4, eid_mask_len=32, nat=nat).encode(),
    ]


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


def decode_everywhere(payload: bytes) -> int:
    """Feed `payload` to every decoder; how many accepted it (DecodeError is fine)."""
    accepted = 0
    for decoder in DECODERS:
        try:
            decoder(payload)
            accepted += 1
        except DecodeError:
            pass
    return accepted


def run(iterations: int, seed: int) -> int:
    """Fuzz `iterations` inputs; returns how many decoded without error."""
    rng = random.Random(seed)
    pool = corpus()
    accepted = 0
    for _ in range(iterations):
        payload = mutate(rng, rng.choice(pool), pool)
        try:
            accepted += decode_everywhere(payload)
        except Exception as error:  # the very thing this harness hunts
            raise AssertionError(f"{error!r} on {payload.hex()}") from error
    return accepted


def run_atheris(iterations: int, seed: int) -> None:
    """Coverage-guided fuzzing with atheris/libFuzzer; does not return."""
    atheris = importlib.import_module("atheris")
    atheris.instrument_all()
    corpus_dir = tempfile.mkdtemp(prefix="fuzz-wire-corpus-")
    for number, entry in enumerate(corpus()):
        Path(corpus_dir, f"seed-{number:03d}").write_bytes(entry)
    argv = [sys.argv[0], f"-runs={iterations}", f"-seed={seed}", corpus_dir]
    atheris.Setup(argv, decode_everywhere)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--engine", choices=["mutation", "atheris"], default="mutation")
    args = parser.parse_args()
    if args.engine == "atheris":
        try:
            run_atheris(args.iterations, args.seed)
        except ModuleNotFoundError:
            print("--engine atheris: pip install atheris", file=sys.stderr)
            return 2
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
