"""Decoding LISP frames for `lispstack decode`: selection, authentication, text layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Any

from lispstack.capture import IPAddress, UdpDatagram
from lispstack.wire import DataPacket, DecodeError, decode_control, verify_raw
from lispstack.wire.message_type import MessageType

CONTROL_PORT = 4342
DATA_PORT = 4341
_AUTHENTICATED = {
    MessageType.MAP_REGISTER,
    MessageType.MAP_NOTIFY,
    MessageType.MAP_NOTIFY_ACK,
    MessageType.INFO,
}
"""Messages whose authentication data (at the same offset in each) `--key` checks."""
ECHO_WITHOUT_NONCE = (
    "E (echo-nonce request) is set but N (nonce present) is clear: E is ignored "
    "(RFC 9300 section 5.3)"
)


@dataclass(slots=True)
class DecodedFrame:
    """One LISP frame: its message as JSON, or what is wrong with it."""

    frame: int
    src: str
    dst: str
    message: dict[str, Any] | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.error is not None or (
            self.message is not None and self.message.get("auth") == "invalid"
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"frame": self.frame, "src": self.src, "dst": self.dst}
        if self.message is not None:
            out["message"] = self.message
        if self.error is not None:
            out["error"] = self.error
        if self.notes:
            out["notes"] = self.notes
        return out


def endpoint(address: IPAddress, port: int) -> str:
    return f"[{address}]:{port}" if isinstance(address, IPv6Address) else f"{address}:{port}"


def lisp_port(datagram: UdpDatagram) -> int | None:
    """4342 for control, 4341 for data, None for a frame that is not LISP.

    The destination port decides when it is a LISP port, as for Wireshark: an RTR
    sends data from 4342 to an xTR's 4341 behind a NAT, which sends ECMs from 4341
    to 4342 (core/nat_messages.py); else the source port (replies to ephemeral ports).
    """
    for port in (datagram.dport, datagram.sport):
        if port in (CONTROL_PORT, DATA_PORT):
            return port
    return None


def decode_payload(
    frame: int, src: str, dst: str, payload: bytes, port: int, keys: list[bytes]
) -> DecodedFrame:
    decoded = DecodedFrame(frame, src, dst)
    try:
        if port == DATA_PORT:
            packet = DataPacket.decode(payload)
            decoded.message = message = packet.to_json()
            if packet.header.echo_nonce_ignored:
                decoded.notes.append(ECHO_WITHOUT_NONCE)
        else:
            decoded.message = message = decode_control(payload, decoded.notes).to_json()
    except DecodeError as error:
        decoded.error = str(error)
        return decoded
    if port == CONTROL_PORT and payload[0] >> 4 in _AUTHENTICATED:
        message["auth"] = _authentication(payload, keys, message, decoded.notes)
    return decoded


def _authentication(
    payload: bytes, keys: list[bytes], message: dict[str, Any], notes: list[str]
) -> str:
    """`valid` or `invalid` with keys, else `unchecked`.

    An Info-Request / Info-Reply with algorithm none is left unchecked, with a
    note, not failed: lispers.net sends them so (tests/vectors/captures).
    """
    if not keys:
        return "unchecked"
    if message["type"].startswith("info-") and message["algorithm"] == "none":
        notes.append(
            f"{message['type']} carries no authentication data (algorithm none): "
            "nothing for --key to check"
        )
        return "unchecked"
    return "valid" if any(verify_raw(payload, key) for key in keys) else "invalid"


def decode_datagram(datagram: UdpDatagram, port: int, keys: list[bytes]) -> DecodedFrame:
    src = endpoint(datagram.src, datagram.sport)
    dst = endpoint(datagram.dst, datagram.dport)
    if not datagram.complete:
        return DecodedFrame(datagram.frame, src, dst, error="frame cut short by the capture")
    return decode_payload(datagram.frame, src, dst, datagram.payload, port, keys)


# ---------------------------------------------------------------- text


def _summary(message: dict[str, Any]) -> str:
    """`map-register nonce 0x... auth valid`, `ecm map-request nonce 0x...`, `data`."""
    top = message
    kind = str(message["type"])
    inner = message.get("inner", {})
    if kind == "ecm" and isinstance(inner, dict) and isinstance(inner.get("message"), dict):
        message = inner["message"]
        kind = f"ecm {message['type']}"
    head = f"{kind} nonce {message['nonce']}" if message.get("nonce") else kind
    extras = []
    if kind == "data":
        if message.get("instance_id"):
            extras.append(f"iid {message['instance_id']}")
        inner_packet = message.get("inner")
        if isinstance(inner_packet, dict) and "src" in inner_packet:
            extras.append(
                f"inner {inner_packet['src']} -> {inner_packet['dst']}"
                f" protocol {inner_packet.get('protocol')}"
            )
    records = message.get("records")
    if isinstance(records, list) and records:
        extras.append(f"{len(records)} record{'' if len(records) == 1 else 's'}")
    if top.get("auth") in ("valid", "invalid"):
        extras.append(f"auth {top['auth']}")
    return ", ".join([head, *extras])


def _item_label(key: str, number: int) -> str:
    """`records` -> `record 1`, `rlocs` -> `rloc 1`, `rtr_rlocs` -> `rtr_rloc 1`."""
    singular = key[:-1] if key.endswith("s") else key
    return f"{singular} {number}:"


def _lines(value: Any, indent: int, key: str = "") -> list[str]:
    pad = "  " * indent
    out: list[str] = []
    if isinstance(value, dict):
        for name, item in value.items():
            if isinstance(item, dict | list) and item:
                out.append(f"{pad}{name}:")
                out.extend(_lines(item, indent + 1, name))
            else:
                out.append(f"{pad}{name}: {_scalar(item)}")
    elif isinstance(value, list):
        for number, item in enumerate(value, 1):
            if isinstance(item, dict | list):
                out.append(f"{pad}{_item_label(key, number)}")
                out.extend(_lines(item, indent + 1, key))
            else:
                out.append(f"{pad}- {_scalar(item)}")
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value == []:
        return "(none)"
    return str(value)


def render_text(decoded: DecodedFrame) -> str:
    head = f"frame {decoded.frame}  {decoded.src} -> {decoded.dst}  "
    if decoded.message is None:
        return head + f"MALFORMED: {decoded.error}"
    lines = [head + _summary(decoded.message)]
    lines.extend(_lines(decoded.message, 1))
    lines.extend(f"  note: {note}" for note in decoded.notes)
    return "\n".join(lines)
