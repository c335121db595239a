"""Structure-aware fuzzer for the wire decoders: only DecodeError may ever escape.

    python fuzz/fuzz_wire.py --iterations 200000 --seed 1
    python fuzz/fuzz_wire.py --engine atheris --iterations 5000000 --seed 1

Each iteration builds one message from a generated structure (every control
message type and data packets; addresses with LCAFs nested up to the limit;
up to 255 records, 255 locators, 32 ITR-RLOCs) and checks it by kind:

    valid       decode(encode(m)) == m and encode(decode(b)) == b
    truncated   every cut of a valid message is refused (all cuts of a short
                message, 64 random ones of a long one)
    deep-lcaf   an address nested 1-400 LCAFs deep where an EID, ITR-RLOC or
                RLOC goes: decoded and re-encoded up to MAX_LCAF_DEPTH,
                TooDeepError beyond
    ecm-in-ecm  2-40 ECMs around one message: refused
    max-counts  the largest counts each message allows: round-trips; the
                same with a count field changed: only DecodeError
    mutated     a message of the kinds above, or a frame of the golden
                captures, with random byte flips, insertions, deletions,
                truncations or splices: only DecodeError

Every input goes to decode_control (which covers the ECM and its inner
message) and to the data-plane decoder; a failed check prints the input's
hex and the run exits 1. With `--engine atheris` (pip install atheris)
libFuzzer drives coverage-guided mutations from a generated corpus.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import random
import struct
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

from lispstack.capture import read_capture
from lispstack.wire import (
    MAX_LCAF_DEPTH,
    NO_ADDRESS,
    Address,
    AfiList,
    AlgorithmId,
    AsNumber,
    ControlMessage,
    DataHeader,
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
    IpUdpHeader,
    Locator,
    MacAddress,
    MapNotify,
    MapNotifyAck,
    MappingRecord,
    MapReferral,
    MapRegister,
    MapReply,
    MapReplyAction,
    MapRequest,
    NatTraversal,
    OpaqueLcaf,
    ReferralAction,
    ReferralRecord,
    SourceDestKey,
    TooDeepError,
    XtrId,
    decode_control,
)
from lispstack.wire.address import encode_address, max_mask_len

CAPTURES = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "captures"
KINDS = ("valid", "truncated", "deep-lcaf", "ecm-in-ecm", "max-counts", "mutated")
_WEIGHTS = (3, 1, 2, 1, 1, 8)  # a wide message costs as much as a hundred mutants
_OPAQUE_TYPES = (4, 5, 6, 8, 9, 11, 13, 14, 15)
_MARKER = IPv6Address("2001:db8:f0:f0::f0")
"""Stands where a generated message gets a hand-built address (deep-lcaf)."""
_MARKER_BYTES = encode_address(_MARKER)
Message = ControlMessage | DataPacket


_FLAG_NAMES: dict[type[Any], tuple[str, ...]] = {}


def _flag_names(cls: type[Any]) -> tuple[str, ...]:
    names = _FLAG_NAMES.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls) if f.type == "bool")
        _FLAG_NAMES[cls] = names
    return names


class Builder:
    """Random valid wire objects; `wide` makes counts as large as the fields allow."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.wide = False
        self.depth = MAX_LCAF_DEPTH
        """How deep addresses nest: shallow in wide messages, which have many of them."""

    def wide_message(self) -> Message:
        self.wide, self.depth = True, 1
        try:
            return self.message()
        finally:
            self.wide, self.depth = False, MAX_LCAF_DEPTH

    def _count(self, low: int, usual: int, most: int) -> int:
        return (
            self.rng.randint(max(low, most - 2), most)
            if self.wide
            else self.rng.randint(low, usual)
        )

    def _bits(self, n: int) -> int:
        return self.rng.getrandbits(n)

    def _flag(self) -> bool:
        return self.rng.random() < 0.5

    def ip(self) -> IPv4Address | IPv6Address:
        return IPv4Address(self._bits(32)) if self._flag() else IPv6Address(self._bits(128))

    def address(self, depth: int | None = None) -> Address:
        """Any address, with up to `depth` LCAFs nested inside one another."""
        depth = self.depth if depth is None else depth
        roll = self.rng.random()
        if roll < 0.4:
            return self.ip()
        if depth == 0 or roll < 0.55:
            leaf = self.rng.randrange(3)
            if leaf == 0:
                return NO_ADDRESS
            if leaf == 1:
                return MacAddress(self.rng.randbytes(6))
            return DistinguishedName("".join(self.rng.choices("lisp-0123", k=self._count(0, 8, 8))))
        inner = depth - 1
        kind = self.rng.randrange(7)
        if kind == 0:
            return AfiList(tuple(self.address(inner) for _ in range(self._count(0, 3, 40))))
        if kind == 1:
            return AsNumber(self._bits(32), self.address(inner))
        if kind == 2:
            bare = self.address(inner)
            return (
                InstanceId(self._bits(32), bare, self.rng.randint(0, 32))
                if not isinstance(bare, InstanceId)
                else bare
            )
        if kind == 3:
            hops = (
                Hop(self.address(inner), self._flag(), self._flag(), self._flag())
                for _ in range(self._count(0, 3, 20))
            )
            return ExplicitLocatorPath(tuple(hops))
        if kind == 4:
            src, dst = self.address(inner), self.address(inner)
            return SourceDestKey(src, self._mask(src), dst, self._mask(dst))
        if kind == 5:
            return self.nat(inner)
        return OpaqueLcaf(
            self.rng.choice(_OPAQUE_TYPES),
            self._bits(8),
            self._bits(8),
            self._bits(8),
            self.rng.randbytes(self._count(0, 12, 200)),
        )

    def nat(self, inner: int) -> NatTraversal:
        """A NAT-traversal LCAF whose addresses nest up to `inner` LCAFs."""
        rtrs = tuple(self.address(inner) for _ in range(self._count(0, 2, 20)))
        global_rloc, ms_rloc, private_rloc = (self.address(inner) for _ in range(3))
        return NatTraversal(
            self._bits(16), self._bits(16), global_rloc, ms_rloc, private_rloc, rtrs
        )

    def _mask(self, address: Address) -> int:
        return self.rng.randint(0, min(max_mask_len(address), 255))

    def eid(self) -> tuple[Address, int]:
        eid = self.address()
        return eid, self._mask(eid)

    def fields(self, cls: type[Any], **given: Any) -> dict[str, Any]:
        """`given`, and a random value for every flag (bool field) of `cls` not given."""
        return {name: self._flag() for name in _flag_names(cls)} | given

    def locator(self) -> Locator:
        priorities: dict[str, Any] = {
            name: self._bits(8) for name in ("priority", "weight", "m_priority", "m_weight")
        }
        return Locator(
            **self.fields(Locator, address=self.address(), unused_flags=self._bits(13)),
            **priorities,
        )

    def record(self) -> MappingRecord:
        eid, mask = self.eid()
        return MappingRecord(
            **self.fields(MappingRecord, eid=eid, eid_mask_len=mask, ttl=self._bits(32)),
            action=self.rng.choice(list(MapReplyAction)),
            map_version=self._bits(12),
            locators=tuple(self.locator() for _ in range(self._count(0, 3, 255))),
            reserved=self._bits(12),
        )

    def records(self) -> tuple[MappingRecord, ...]:
        # Many records, or one record with many locators: a datagram's worth either way.
        if self.wide and self._flag():
            self.wide = False
            records = tuple(self.record() for _ in range(self.rng.randint(200, 255)))
            self.wide = True
            return records
        return tuple(self.record() for _ in range(self._count(0, 3, 1)))

    def authenticated(self, cls: type[Any], **given: Any) -> dict[str, Any]:
        """The fields of a Map-Register, Map-Notify(-Ack) or Info message."""
        algorithm = self.rng.choice(list(AlgorithmId))
        auth_data = self.rng.randbytes(algorithm.digest_length)
        return self.fields(
            cls,
            nonce=self._bits(64),
            key_id=self._bits(8),
            algorithm=algorithm,
            auth_data=auth_data,
            **given,
        )

    def _xtr_id(self) -> XtrId | None:
        return XtrId(self._bits(128), self._bits(64)) if self._flag() else None

    def map_request(self) -> MapRequest:
        eids = (self.eid() for _ in range(self._count(1, 3, 255)))
        return MapRequest(
            **self.fields(MapRequest, nonce=self._bits(64), reserved=self._bits(5)),
            itr_rlocs=tuple(self.address() for _ in range(self._count(1, 3, 32))),
            records=tuple(
                EidRecord(eid=e, eid_mask_len=m, reserved=self._bits(8)) for e, m in eids
            ),
            source_eid=self.address(),
            map_reply_record=self.record() if self._flag() else None,
            xtr_id=self._xtr_id(),
        )

    def map_reply(self) -> MapReply:
        return MapReply(
            **self.fields(MapReply, nonce=self._bits(64), reserved=self._bits(17)),
            records=self.records(),
        )

    def map_register(self) -> MapRegister:
        return MapRegister(
            **self.authenticated(MapRegister, reserved=self._bits(12) << 13),
            records=self.records(),
            xtr_id=self._xtr_id(),
        )

    def map_notify(self) -> MapNotify | MapNotifyAck:
        xtr_id = self._xtr_id()
        kind = MapNotify if self._flag() else MapNotifyAck
        fields = self.authenticated(kind, i_bit=xtr_id is not None, reserved=self._bits(18) << 8)
        return kind(**fields, records=self.records(), xtr_id=xtr_id)

    def map_referral(self) -> MapReferral:
        def referral() -> ReferralRecord:
            eid, mask = self.eid()
            return ReferralRecord(
                **self.fields(ReferralRecord, eid=eid, eid_mask_len=mask, ttl=self._bits(32)),
                action=self.rng.choice(list(ReferralAction)),
                map_version=self._bits(12),
                referrals=tuple(self.locator() for _ in range(self._count(0, 3, 255))),
            )

        records = tuple(referral() for _ in range(self._count(0, 3, 1)))
        return MapReferral(nonce=self._bits(64), records=records, reserved=self._bits(20))

    def info(self) -> InfoRequest | InfoReply:
        eid, mask = self.eid()
        common = {
            "eid": eid,
            "eid_mask_len": mask,
            "ttl": self._bits(32),
            "reserved": self._bits(27),
            "eid_reserved": self._bits(8),
        }
        if self._flag():
            return InfoReply(
                **self.authenticated(InfoReply, **common), nat=self.nat(self.depth - 1)
            )
        return InfoRequest(**self.authenticated(InfoRequest, **common))

    def ecm(self, message: ControlMessage | None = None) -> Ecm:
        header = self.ip_udp()
        inner = dataclasses.asdict(header)  # the inner IP/UDP fields, under the ECM's names
        for ours, theirs in (
            ("src", "source"),
            ("dst", "destination"),
            ("sport", "source_port"),
            ("dport", "destination_port"),
        ):
            inner[theirs] = inner.pop(ours)
        inner["udp_checksum"] = self._bits(16)  # None would come back as the computed number
        if message is None:
            message = self.rng.choice((self.map_request, self.map_register, self.map_reply))()
        return Ecm(**self.fields(Ecm, message=message, reserved=self._bits(24), **inner))

    def ip_udp(self) -> IpUdpHeader:
        src = self.ip()
        dst = IPv4Address(self._bits(32)) if src.version == 4 else IPv6Address(self._bits(128))
        v4 = src.version == 4
        return IpUdpHeader(
            src=src,
            dst=dst,
            sport=self._bits(16),
            dport=self._bits(16),
            ttl=self._bits(8),
            tos=self._bits(8),
            ip_id=self._bits(16) if v4 else 0,
            ip_flags=self._bits(16) if v4 else 0,
            flow_label=0 if v4 else self._bits(20),
        )

    def data_packet(self) -> DataPacket:
        versioned, with_iid = self._flag(), self._flag()
        flags = {"map_version_present": versioned, "instance_id_present": with_iid}
        if versioned:
            flags["nonce_present"] = False  # N and V exclude each other
        header = DataHeader(
            **self.fields(DataHeader, **flags),
            reserved_flags=self._bits(3),
            nonce=0 if versioned else self._bits(24),
            source_map_version=self._bits(12) if versioned else 0,
            dest_map_version=self._bits(12) if versioned else 0,
            instance_id=self._bits(24) if with_iid else 0,
            lsb=self._bits(8 if with_iid else 32),
        )
        inner = self.ip_udp().encode(self.rng.randbytes(self._count(0, 64, 1400)))
        return DataPacket(header=header, inner=inner)

    def message(self) -> Message:
        makers: tuple[Callable[[], Message], ...] = (
            self.map_request,
            self.map_reply,
            self.map_register,
            self.map_notify,
            self.map_referral,
            self.info,
            self.ecm,
            self.data_packet,
        )
        return self.rng.choice(makers)()


def decode(payload: bytes, data: bool) -> Message:
    return DataPacket.decode(payload) if data else decode_control(payload)


def decode_everywhere(payload: bytes) -> int:
    """Feed `payload` to every decoder; how many accepted it (DecodeError is fine)."""
    accepted = 0
    for data in (False, True):
        try:
            decode(payload, data)
            accepted += 1
        except DecodeError:
            pass
    return accepted


# ---------------------------------------------------------------- hand-built structures

_LCAF = struct.Struct("!HBBBBH")


def _lcaf(lcaf_type: int, body: bytes) -> bytes:
    return _LCAF.pack(16387, 0, 0, lcaf_type, 0, len(body)) + body


_V4 = encode_address(IPv4Address("10.0.0.1"))
_WRAPPERS: tuple[Callable[[bytes], bytes], ...] = (
    lambda inner: _lcaf(1, _V4 + inner),  # AFI list
    lambda inner: _lcaf(3, b"\0\0\xfd\xe8" + inner),  # AS number
    lambda inner: _lcaf(10, b"\0\x04" + inner),  # ELP hop
    lambda inner: _lcaf(12, b"\0\0\0\x20" + inner + _V4),  # source/dest key
    lambda inner: _lcaf(7, b"\x10\xf6\x10\xf5" + _V4 + inner + _V4),  # NAT traversal
)


def deep_address(rng: random.Random, depth: int) -> bytes:
    """An IPv4 address in `depth` LCAFs of random kinds, as the bytes a peer would send."""
    address = _V4
    for _ in range(depth):
        address = rng.choice(_WRAPPERS)(address)
    return address


def with_marker(builder: Builder) -> tuple[ControlMessage, int]:
    """A control message with _MARKER at the top of one address field, and its offset."""
    rng = builder.rng
    record = MappingRecord(eid=_MARKER, eid_mask_len=0, locators=(builder.locator(),))
    slot = rng.randrange(4)
    message: ControlMessage
    if slot == 0:
        message = MapRequest(
            nonce=1,
            itr_rlocs=(builder.ip(),),
            records=(EidRecord(eid=builder.ip(), eid_mask_len=0),),
            source_eid=_MARKER,
        )
    elif slot == 1:
        message = MapRequest(
            nonce=1,
            itr_rlocs=(builder.ip(), _MARKER),
            records=(EidRecord(eid=_MARKER, eid_mask_len=0),),
        )
    elif slot == 2:
        message = MapRegister(**builder.authenticated(MapRegister, records=(record,)))
    else:
        message = MapReply(
            nonce=1,
            records=(
                MappingRecord(
                    eid=builder.ip(), eid_mask_len=0, locators=(Locator(address=_MARKER),)
                ),
            ),
        )
    encoded = message.encode()
    return message, encoded.index(_MARKER_BYTES)


# ---------------------------------------------------------------- checks


class Tally:
    """How many inputs of each kind were checked, and how many of them decoded."""

    def __init__(self) -> None:
        self.inputs: Counter[str] = Counter()
        self.decoded: Counter[str] = Counter()

    def check(
        self, kind: str, payload: bytes, expect: str, original: Message | None = None
    ) -> None:
        """Decode `payload`; `expect` is "decode", "refuse", "deep" (TooDeepError) or "any"."""
        data = isinstance(original, DataPacket)
        self.inputs[kind] += 1
        try:
            message = decode(payload, data)
        except TooDeepError:
            if expect not in ("refuse", "deep", "any"):
                raise
        except DecodeError:
            if expect not in ("refuse", "any"):
                raise
        else:
            self.decoded[kind] += 1
            if expect in ("refuse", "deep"):
                raise AssertionError(f"{kind}: decoded {message!r}")
            if expect == "decode" and original is not None and message != original:
                raise AssertionError(f"{kind}: decoded to another message {message!r}")
            if expect == "decode" and message.encode() != payload:
                raise AssertionError(f"{kind}: re-encodes to {message.encode().hex()}")
        if expect == "any":
            decode_everywhere(payload)


def mutate(rng: random.Random, data: bytes, pool: Sequence[bytes]) -> bytes:
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


def _count_lie(rng: random.Random, encoded: bytes) -> bytes:
    """`encoded` with one of its first 64 bytes (where the counts are) moved by +-1."""
    at = rng.randrange(min(64, len(encoded)))
    return encoded[:at] + bytes([(encoded[at] + rng.choice((-1, 1))) & 0xFF]) + encoded[at + 1 :]


def one_iteration(builder: Builder, tally: Tally, pool: Pool) -> None:
    rng = builder.rng
    kind = rng.choices(KINDS, _WEIGHTS)[0]
    if kind in ("valid", "truncated"):
        message = builder.message()
        encoded = message.encode()
        tally.check("valid", encoded, "decode", message)
        pool.generated.append(encoded)
        if kind == "truncated":
            cuts = (
                range(len(encoded)) if len(encoded) <= 160 else rng.sample(range(len(encoded)), 64)
            )
            for cut in cuts:
                tally.check(kind, encoded[:cut], "refuse", message)
    elif kind == "deep-lcaf":
        message, at = with_marker(builder)
        depth = rng.choice(
            (1, MAX_LCAF_DEPTH - 1, MAX_LCAF_DEPTH, MAX_LCAF_DEPTH + 1, MAX_LCAF_DEPTH + 2, 40, 400)
        )
        encoded = message.encode()
        payload = encoded[:at] + deep_address(rng, depth) + encoded[at + len(_MARKER_BYTES) :]
        if rng.random() < 0.3:
            payload = builder.ecm(message).encode_around(payload)
        tally.check(kind, payload, "decode" if depth <= MAX_LCAF_DEPTH else "deep")
        pool.generated.append(payload)
    elif kind == "ecm-in-ecm":
        payload = builder.map_request().encode()
        for _ in range(rng.randint(2, 40)):
            payload = builder.ecm().encode_around(payload)
        tally.check(kind, payload, "refuse")
    elif kind == "max-counts":
        message = builder.wide_message()
        encoded = message.encode()
        tally.check(kind, encoded, "decode", message)
        tally.check(kind, _count_lie(rng, encoded), "any", message)
    else:
        entries = pool.entries()
        tally.check(kind, mutate(rng, rng.choice(entries), entries), "any")


def seed_corpus() -> list[bytes]:
    """The golden captures' frames."""
    return [
        d.payload for path in sorted(CAPTURES.glob("*.pcap")) for d in read_capture(path).datagrams
    ]


class Pool:
    """What the mutator starts from: the captures, and the latest generated messages."""

    def __init__(self) -> None:
        self.captures = seed_corpus()
        self.generated: deque[bytes] = deque(maxlen=400)

    def entries(self) -> list[bytes]:
        return self.captures + list(self.generated)


def run(iterations: int, seed: int) -> Tally:
    """`iterations` iterations (several inputs each); raises AssertionError on a failed check."""
    builder = Builder(random.Random(seed))
    tally = Tally()
    pool = Pool()
    for _ in range(iterations):
        try:
            one_iteration(builder, tally, pool)
        except Exception as error:  # the very thing this harness hunts
            raise AssertionError(f"iteration {sum(tally.inputs.values())}: {error!r}") from error
    return tally


def run_atheris(iterations: int, seed: int) -> None:
    """Coverage-guided fuzzing with atheris/libFuzzer; does not return."""
    atheris = importlib.import_module("atheris")
    atheris.instrument_all()
    corpus_dir = tempfile.mkdtemp(prefix="fuzz-wire-corpus-")
    builder = Builder(random.Random(seed))
    entries = seed_corpus() + [builder.message().encode() for _ in range(200)]
    for number, entry in enumerate(entries):
        Path(corpus_dir, f"seed-{number:03d}").write_bytes(entry)
    argv = [sys.argv[0], f"-runs={iterations}", f"-seed={seed}", corpus_dir]
    atheris.Setup(argv, decode_everywhere)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--engine", choices=["structure", "atheris"], default="structure")
    args = parser.parse_args()
    if args.engine == "atheris":
        try:
            run_atheris(args.iterations, args.seed)
        except ModuleNotFoundError:
            print("--engine atheris: pip install atheris", file=sys.stderr)
            return 2
    started = time.perf_counter()
    try:
        tally = run(args.iterations, args.seed)
    except AssertionError as error:
        print(f"seed {args.seed}: {error}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    total = sum(tally.inputs.values())
    print(f"{'kind':<12} {'inputs':>10} {'decoded':>10}")
    for kind in KINDS:
        print(f"{kind:<12} {tally.inputs[kind]:>10,} {tally.decoded[kind]:>10,}")
    print(
        f"seed {args.seed}: {args.iterations:,} iterations, {total:,} inputs in {elapsed:.1f} s "
        f"({total / elapsed:,.0f} inputs/s), every check held"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
