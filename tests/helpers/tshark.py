"""Wireshark's LISP dissector (tshark) as an independent oracle for our bytes.

    frames = check_payloads([Probe(map_request), Probe(data_packet, port=4341)])
    assert frames[0].clean, frames[0].problems()
    assert frames[0].fields["lisp.nonce"] == ["0x0123456789abcdef"]

Each payload becomes one UDP datagram (built with lispstack.capture's
canonical builders) in a pcap; tshark dissects it with checksum validation
on, and for every frame we return whether tshark found it malformed, its
expert infos of severity warning or error, the bytes it left undissected
after a LISP message, and every `lisp.*` / `lisp-data.*` field as
name -> list of "show" values (in dissection order; inner ECM messages add
to the same lists).

Wireshark 4.0 quirks handled here: it does not know Map-Notify-Ack (type 5)
and shows it as opaque data; since a Map-Notify-Ack has exactly the
Map-Notify layout, such a frame is dissected again with its type nibble set
to 4 (`checked_as == 4`, and the fields are those of that second pass).
Field names follow Wireshark 4.0's: e.g. `lisp.type`, `lisp.nonce`,
`lisp.records`, `lisp.keyid`, `lisp.authlen`, `lisp.mreq.record.prefix.ipv4`,
`lisp.mapping.ttl`, `lisp-data.nonce`, `lisp-data.lsb`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lispstack.capture import build_udp_packet, read_capture, write_pcap

CONTROL_PORT = 4342
DATA_PORT = 4341
SEVERITY_WARNING = 0x00600000
SEVERITY_ERROR = 0x00800000
_SEVERITY_NAMES = {SEVERITY_WARNING: "warning", SEVERITY_ERROR: "error"}
_LISP_PROTOS = ("lisp", "lisp-data")
_LISP_PREFIXES = ("lisp.", "lisp-data.")
_MAP_NOTIFY_ACK = 5
_MAP_NOTIFY = 4


class TsharkError(RuntimeError):
    """tshark is missing or failed to run."""


@dataclass(frozen=True, slots=True)
class Probe:
    """One UDP payload to hand to tshark; `sport` defaults to `port`."""

    payload: bytes
    port: int = CONTROL_PORT
    src: str = "127.0.0.1"
    dst: str = "127.0.0.1"
    sport: int | None = None

    def ip_packet(self, payload: bytes | None = None) -> bytes:
        sport = self.port if self.sport is None else self.sport
        body = self.payload if payload is None else payload
        return build_udp_packet(self.src, self.dst, sport, self.port, body)


@dataclass(frozen=True, slots=True)
class Expert:
    """One expert info of severity warning or error."""

    severity: str  # "warning" or "error"
    protocol: str
    message: str


@dataclass(frozen=True, slots=True)
class TsharkFrame:
    """tshark's verdict on one frame."""

    frame: int
    protocols: tuple[str, ...]
    malformed: bool
    experts: tuple[Expert, ...]
    fields: Mapping[str, list[str]]
    shownames: Mapping[str, list[str]]
    undissected: bytes = b""
    checked_as: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def is_lisp(self) -> bool:
        return any(p in self.protocols for p in _LISP_PROTOS)

    @property
    def clean(self) -> bool:
        """Dissected as LISP, not malformed, no warning or error, nothing left over."""
        return self.is_lisp and not self.malformed and not self.experts and not self.undissected

    def problems(self) -> list[str]:
        """Why the frame is not clean, one line each (for assertion messages)."""
        out = [] if self.is_lisp else [f"not dissected as LISP (protocols {self.protocols})"]
        out += ["malformed"] if self.malformed else []
        out += [f"{e.severity} ({e.protocol}): {e.message}" for e in self.experts]
        if self.undissected:
            out.append(f"{len(self.undissected)} undissected byte(s): {self.undissected.hex()}")
        return out

    def value(self, name: str) -> str:
        """The one value of field `name` (AssertionError when absent or repeated)."""
        values = self.fields.get(name, [])
        assert len(values) == 1, f"{name}: expected one value, got {values}"
        return values[0]


def tshark_binary() -> str | None:
    """The tshark to run: $TSHARK, else tshark on PATH, else None."""
    return os.environ.get("TSHARK") or shutil.which("tshark")


def run_pdml(
    pcap: str | os.PathLike[str], *, decode_as: Sequence[str] = (), check_checksums: bool = True
) -> ET.Element:
    """tshark's PDML for a capture file, parsed (IPv4 and UDP checksums validated if asked)."""
    binary = tshark_binary()
    if binary is None:
        raise TsharkError("tshark not found (apt-get install tshark)")
    cmd = [binary, "-n", "-r", os.fspath(pcap), "-T", "pdml"]
    if check_checksums:
        cmd += ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    for spec in decode_as:
        cmd += ["-d", spec]
    result = subprocess.run(cmd, capture_output=True, timeout=300, check=False)
    if result.returncode != 0:
        raise TsharkError(f"{' '.join(cmd)} failed: {result.stderr.decode(errors='replace')}")
    return ET.fromstring(result.stdout)


def parse_frame(packet: ET.Element) -> TsharkFrame:
    """One PDML <packet> as a TsharkFrame."""
    protos = packet.findall("proto")
    names = tuple(p.get("name", "") for p in protos)
    number = int(_attr(packet.find("proto[@name='frame']/field[@name='frame.number']"), "show"))
    experts: list[Expert] = []
    fields: dict[str, list[str]] = {}
    shownames: dict[str, list[str]] = {}
    undissected = b""
    for proto in protos:
        pname = proto.get("name", "")
        for elem in proto.iter("field"):
            fname = elem.get("name", "")
            if fname == "_ws.expert":
                expert = _expert(elem, pname)
                if expert is not None:
                    experts.append(expert)
            elif fname.startswith(_LISP_PREFIXES):
                fields.setdefault(fname, []).append(elem.get("show", ""))
                shownames.setdefault(fname, []).append(elem.get("showname", ""))
        if pname in _LISP_PROTOS:
            for data in proto.findall("field[@name='data']"):
                undissected += bytes.fromhex(data.get("value", ""))
    return TsharkFrame(
        frame=number,
        protocols=names,
        malformed="_ws.malformed" in names,
        experts=tuple(experts),
        fields=fields,
        shownames=shownames,
        undissected=undissected,
    )


def _attr(elem: ET.Element | None, name: str) -> str:
    assert elem is not None, "unexpected PDML layout"
    value = elem.get(name)
    assert value is not None, f"PDML element without {name}"
    return value


def _expert(elem: ET.Element, proto: str) -> Expert | None:
    severity = int(_attr(elem.find("field[@name='_ws.expert.severity']"), "show"))
    if severity < SEVERITY_WARNING:
        return None
    message = elem.find("field[@name='_ws.expert.message']")
    text = message.get("show", "") if message is not None else elem.get("showname", "")
    name = _SEVERITY_NAMES.get(severity, "error" if severity > SEVERITY_ERROR else "warning")
    return Expert(severity=name, protocol=proto, message=text)


def _lisp_type(frame: TsharkFrame) -> int | None:
    types = frame.fields.get("lisp.type")
    return int(types[0]) if types else None


def _check(
    pcap: Path,
    payloads: Mapping[int, Probe],
    decode_as: Sequence[str],
    recheck: bool,
    checksums: bool,
) -> list[TsharkFrame]:
    pdml = run_pdml(pcap, decode_as=decode_as, check_checksums=checksums)
    frames = [parse_frame(p) for p in pdml.findall("packet")]
    if not recheck:
        return frames
    acks = [f.frame for f in frames if _lisp_type(f) == _MAP_NOTIFY_ACK and f.frame in payloads]
    if not acks:
        return frames
    again_path = pcap.with_name(pcap.stem + "-as-map-notify.pcap")
    packets = []
    for number in acks:
        probe = payloads[number]
        as_notify = bytes([(_MAP_NOTIFY << 4) | (probe.payload[0] & 0x0F)]) + probe.payload[1:]
        packets.append((probe.ip_packet(as_notify), float(number)))
    write_pcap(again_path, packets)
    pdml = run_pdml(again_path, decode_as=decode_as, check_checksums=checksums)
    again = [parse_frame(p) for p in pdml.findall("packet")]
    by_number = {f.frame: f for f in frames}
    for number, redone in zip(acks, again, strict=True):
        by_number[number] = TsharkFrame(
            frame=number,
            protocols=redone.protocols,
            malformed=redone.malformed,
            experts=redone.experts,
            fields=redone.fields,
            shownames=redone.shownames,
            undissected=redone.undissected,
            checked_as=_MAP_NOTIFY,
            notes=("Map-Notify-Ack is unknown to this tshark: checked as a Map-Notify",),
        )
    return [by_number[f.frame] for f in frames]


def check_payloads(
    probes: Sequence[Probe | bytes],
    *,
    decode_as: Sequence[str] = (),
    recheck_map_notify_ack: bool = True,
    check_checksums: bool = True,
    keep: str | os.PathLike[str] | None = None,
) -> list[TsharkFrame]:
    """tshark's verdict on each payload, in order (bare bytes go to the control port).

    IPv4 and UDP checksums are validated: the packets come from our own builders.
    `keep` names a path to copy the generated pcap to, for a look in Wireshark.
    """
    wrapped = [p if isinstance(p, Probe) else Probe(p) for p in probes]
    with tempfile.TemporaryDirectory(prefix="lispstack-tshark-") as tmp:
        pcap = Path(tmp) / "probes.pcap"
        write_pcap(pcap, [(p.ip_packet(), float(i)) for i, p in enumerate(wrapped, 1)])
        if keep is not None:
            shutil.copyfile(pcap, keep)
        by_frame = dict(enumerate(wrapped, 1))
        frames = _check(pcap, by_frame, decode_as, recheck_map_notify_ack, check_checksums)
    assert len(frames) == len(wrapped), f"tshark saw {len(frames)} frames for {len(wrapped)}"
    return frames


def check_pcap(
    path: str | os.PathLike[str],
    *,
    decode_as: Sequence[str] = (),
    recheck_map_notify_ack: bool = True,
    check_checksums: bool = False,
) -> list[TsharkFrame]:
    """tshark's verdict on every frame of a capture file (Map-Notify-Acks re-checked).

    Checksums are not validated by default: captures taken on veth pairs or
    with checksum offload hold checksums the kernel never filled in.
    """
    probes = {
        d.frame: Probe(d.payload, port=d.dport, src=str(d.src), dst=str(d.dst), sport=d.sport)
        for d in read_capture(path).datagrams
    }
    with tempfile.TemporaryDirectory(prefix="lispstack-tshark-") as tmp:
        copy = Path(tmp) / "capture"
        shutil.copyfile(path, copy)
        return _check(copy, probes, decode_as, recheck_map_notify_ack, check_checksums)
