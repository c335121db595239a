"""A capture's LISP messages as a ladder: one column per address, one arrow per message.

The arrows are made from `lispstack decode`'s DecodedFrames (the same
decoder, the same JSON). A message recorded on two links of a lab (the
Map-Server routes between them) is drawn once: the second copy has the same
bytes a moment later, one IP hop fewer to live. Data packets of one flow
become one arrow per burst, with a count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lispstack.cli.dissect import DecodedFrame, render_text

ROUTED_WINDOW = 0.5
"""Seconds within which the same bytes with a lower TTL are the same message, routed."""
BURST_GAP = 1.0
"""Seconds of silence that end a data flow's burst."""
TITLES = {
    "map-request": "Map-Request",
    "map-reply": "Map-Reply",
    "map-register": "Map-Register",
    "map-notify": "Map-Notify",
    "map-notify-ack": "Map-Notify-Ack",
    "map-referral": "Map-Referral",
    "info-request": "Info-Request",
    "info-reply": "Info-Reply",
    "ecm": "ECM",
}


@dataclass(frozen=True, slots=True)
class Seen:
    """One decoded frame, when it was recorded and its outer IP TTL (hop limit), if known."""

    frame: DecodedFrame
    time: float
    ttl: int | None = None
    payload: bytes = b""
    """The UDP payload: the same bytes again, with a lower TTL, are a routed copy."""


def hop_limit(ip_packet: bytes) -> int | None:
    """The TTL of an IPv4 packet, the hop limit of an IPv6 one."""
    version = ip_packet[0] >> 4 if ip_packet else 0
    if version == 4 and len(ip_packet) > 8:
        return ip_packet[8]
    if version == 6 and len(ip_packet) > 7:
        return ip_packet[7]
    return None


@dataclass(slots=True)
class Arrow:
    """One message (or one burst of data packets) from column `src` to column `dst`."""

    time: float
    src: str
    dst: str
    label: str
    detail: str
    failed: bool
    frames: list[int] = field(default_factory=list)
    last_time: float = 0.0

    @property
    def count(self) -> int:
        return len(self.frames)


@dataclass(slots=True)
class Ladder:
    columns: list[tuple[str, list[str]]]
    """Each column's name and the addresses drawn in it, left to right."""
    arrows: list[Arrow]
    start: float


def host(endpoint: str) -> str:
    """`10.0.1.1:4342` -> `10.0.1.1`, `[fd00::1]:4342` -> `fd00::1`."""
    address = endpoint.rsplit(":", 1)[0]
    return address.strip("[]")


def _short_nonce(nonce: Any) -> str:
    text = str(nonce)
    return f"{text[:6]}…{text[-4:]}" if len(text) > 10 else text


def _records(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    records = message.get("records")
    return records if isinstance(records, list) else []


def label(message: Mapping[str, Any]) -> str:
    """`ECM Map-Request 192.168.2.1/32 nonce …3f2a`, `Map-Reply 0.0.0.0/1 natively-forward
    TTL 15 nonce …3f2a`, `Map-Register 192.168.1.0/24 RLOC 10.0.1.1 TTL 1440 nonce …`."""
    kind = str(message.get("type"))
    words = [TITLES.get(kind, kind)]
    inner = message.get("inner")
    if kind == "ecm" and isinstance(inner, dict) and isinstance(inner.get("message"), dict):
        message = inner["message"]
        kind = str(message.get("type"))
        words.append(TITLES.get(kind, kind))
    records = _records(message)
    if records:
        first = records[0]
        eid = str(first.get("eid"))
        words.append(f"[{first['iid']}]{eid}" if first.get("iid") else eid)
        if len(records) > 1:
            words.append(f"+{len(records) - 1} more")
        if "ttl" in first:
            rlocs = [str(r.get("address")) for r in first.get("rlocs", [])]
            if rlocs:
                words.append("RLOC " + ",".join(rlocs))
            elif first.get("action"):
                words.append(str(first["action"]))
            words.append(f"TTL {first['ttl']}")
    elif kind.startswith("info-") and message.get("global_etr_rloc"):
        words.append(f"RLOC {message['global_etr_rloc']}")
    if message.get("nonce"):
        words.append(f"nonce {_short_nonce(message['nonce'])}")
    return " ".join(words)


def _data_flow(frame: DecodedFrame, src: str, dst: str) -> tuple[str, ...] | None:
    message = frame.message
    if message is None or message.get("type") != "data":
        return None
    inner = message.get("inner", {})
    return (src, dst, str(inner.get("src")), str(inner.get("dst")), str(message.get("instance_id")))


def _burst_label(count: int, flow: tuple[str, ...]) -> str:
    """`3 data packets 192.168.1.1 → 192.168.2.1` (the inner, EID, addresses)."""
    return f"{count} data packet{'' if count == 1 else 's'} {flow[2]} → {flow[3]}"


class _Builder:
    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names
        self.arrows: list[Arrow] = []
        self.columns: dict[str, list[str]] = {}
        self.recent: dict[tuple[str, str, bytes], tuple[float, int]] = {}
        self.bursts: dict[tuple[str, ...], Arrow] = {}

    def column(self, address: str) -> str:
        name = self.names.get(address, address)
        addresses = self.columns.setdefault(name, [])
        if address not in addresses:
            addresses.append(address)
        return name

    def _routed_copy(self, seen: Seen) -> bool:
        """The same bytes were recorded a moment ago, one hop or more earlier."""
        if seen.ttl is None or not seen.payload:
            return False
        key = (seen.frame.src, seen.frame.dst, seen.payload)
        earlier = self.recent.get(key)
        self.recent[key] = (seen.time, seen.ttl)
        return (
            earlier is not None
            and seen.time - earlier[0] <= ROUTED_WINDOW
            and seen.ttl < earlier[1]
        )

    def add(self, seen: Seen) -> None:
        frame, time = seen.frame, seen.time
        src, dst = self.column(host(frame.src)), self.column(host(frame.dst))
        if self._routed_copy(seen):
            return
        flow = _data_flow(frame, src, dst)
        if flow is None:
            self.bursts.clear()  # a control message ends every burst: the order stays true
            self._new(frame, time, src, dst)
            return
        burst = self.bursts.get(flow)
        if burst is not None and time - burst.last_time <= BURST_GAP:
            burst.frames.append(frame.frame)
            burst.last_time = time
            burst.label = _burst_label(burst.count, flow)
            return
        self.bursts[flow] = self._new(frame, time, src, dst)
        self.bursts[flow].label = _burst_label(1, flow)

    def _new(self, frame: DecodedFrame, time: float, src: str, dst: str) -> Arrow:
        if frame.message is None:
            text = f"MALFORMED: {frame.error}"
        else:
            text = label(frame.message)
            if frame.message.get("auth") == "invalid":
                text += " AUTH INVALID"
        arrow = Arrow(time, src, dst, text, render_text(frame), frame.failed, [frame.frame], time)
        self.arrows.append(arrow)
        return arrow


def build_ladder(
    frames: Iterable[Seen], names: Mapping[str, str] | None = None, order: Iterable[str] = ()
) -> Ladder:
    """The ladder of `frames`; `names` maps addresses to column names (a lab's node
    names); `order` lists the column names that go first, left to right."""
    builder = _Builder(names or {})
    for seen in sorted(frames, key=lambda seen: seen.time):
        builder.add(seen)
    for arrow in builder.arrows:
        if arrow.count > 1:
            arrow.detail = (
                f"{arrow.count} data packets, frames {arrow.frames[0]}..{arrow.frames[-1]}, "
                f"over {arrow.last_time - arrow.time:.3f} s; the first:\n{arrow.detail}"
            )
    first = list(dict.fromkeys(name for name in order if name in builder.columns))
    rest = [name for name in builder.columns if name not in first]
    columns = [(name, builder.columns[name]) for name in [*first, *rest]]
    start = builder.arrows[0].time if builder.arrows else 0.0
    return Ladder(columns, builder.arrows, start)
