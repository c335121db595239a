"""Text tables for `lispstack show`, laid out like a router's show output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def _rlocs(record: dict[str, Any]) -> str:
    return (
        ", ".join(
            f"{r['address']} {r['priority']}/{r['weight']}"
            + (" local" if r.get("local") else "")
            + (_probe(r["probe"]) if "probe" in r else "" if r.get("reachable", True) else " down")
            for r in record.get("rlocs", [])
        )
        or "-"
    )


def _probe(probe: dict[str, Any]) -> str:
    """A map-cache RLOC's probing: " up rtt 1.2ms probed 3s ago" (state alone when unprobed)."""
    text = f" {probe['state']}"
    if probe.get("rtt_ms") is not None:
        text += f" rtt {probe['rtt_ms']:g}ms"
    if probe.get("last_probe_s_ago") is not None:
        text += f" probed {probe['last_probe_s_ago']:.0f}s ago"
    return text


def _eid(record: dict[str, Any]) -> str:
    return f"[{record['iid']}]{record['eid']}" if record.get("iid") else str(record["eid"])


def _referral_set(record: dict[str, Any]) -> str:
    """A referral record's set, `address priority/weight` each; `-` when none."""
    referrals = record.get("referrals", [])
    return ", ".join(f"{r['address']} {r['priority']}/{r['weight']}" for r in referrals) or "-"


_EMPTY = {
    "map-cache": ("the map-cache is empty", "no map-cache entry covers {}"),
    "database": ("no database mappings", "no database mapping covers {}"),
    "registrations": ("no registrations", "no registration covers {}"),
    "sites": ("no sites", "no sites"),
    "statistics": ("no counters", "no counters"),
    "referral-cache": ("the referral cache is empty", "the referral cache is empty"),
    "subscriptions": ("no subscriptions", "no subscriptions"),
    "delegations": ("no authoritative prefixes", "no authoritative prefixes"),
    "nat": ("no xTR behind a NAT", "no xTR behind a NAT"),
}
"""What an empty answer reads as, per topic: without an EID argument, and with one."""


def _empty(topic: str, arg: str | None) -> str:
    whole, covering = _EMPTY.get(topic, (f"nothing to show for {topic}",) * 2)
    return whole if arg is None else covering.format(arg)


FORWARDING_FIELDS = (
    ("destination", "destination"),
    ("source", "source"),
    ("iid", "instance-id"),
    ("verdict", "verdict"),
    ("reason", "why"),
    ("prefix", "map-cache entry"),
    ("rloc", "RLOC"),
    ("map_resolver", "Map-Resolver"),
    ("plane", "data plane"),
)


def fields(result: dict[str, Any], names: Sequence[tuple[str, str]]) -> str:
    """Aligned "label: value" lines for the keys of `result` that have a value."""
    shown = [(f"{label}:", result[key]) for key, label in names if result.get(key) is not None]
    width = max((len(label) for label, _ in shown), default=0)
    return "\n".join(f"{label.ljust(width)} {value}" for label, value in shown)


def render(topic: str, result: Any, arg: str | None = None) -> str:
    if not result and isinstance(result, list | dict):
        return _empty(topic, arg)
    if topic == "statistics" and isinstance(result, dict):
        return table(("counter", "value"), sorted(result.items()))
    if topic == "forwarding" and isinstance(result, dict):
        return fields(result, FORWARDING_FIELDS)
    if not isinstance(result, list):
        return str(result)
    if topic == "registrations":
        return table(
            ("EID prefix", "site", "registered by", "proxy", "last reg", "expires", "RLOCs"),
            [
                (
                    _eid(r),
                    r["site"],
                    r["registered_by"],
                    "yes" if r["proxy_reply"] else "no",
                    f"{r['last_registered_s']:.0f}s",
                    f"{r['expires_in_s']:.0f}s",
                    _rlocs(r),
                )
                for r in result
            ],
        )
    if topic == "sites":
        return table(
            ("site", "EID prefixes", "keys", "more-specifics", "registered"),
            [
                (
                    s["site"],
                    ", ".join(s["eid_prefixes"]),
                    s["keys"],
                    "yes" if s["accept_more_specifics"] else "no",
                    "yes" if s["registered"] else "no",
                )
                for s in result
            ],
        )
    if topic == "map-cache":
        return table(
            ("EID prefix", "uptime", "expires", "source", "action", "RLOCs"),
            [
                (
                    _eid(r),
                    f"{r.get('uptime_s', 0):.0f}s",
                    f"{r.get('expires_in_s', 0):.0f}s",
                    r.get("source", "-"),
                    r["action"],
                    _rlocs(r),
                )
                for r in result
            ],
        )
    if topic == "subscriptions":
        return table(
            ("EID prefix", "site", "ITR-RLOC", "xTR-ID", "nonce", "unacked", "expires"),
            [
                (
                    r["eid"],
                    r["site"],
                    r["itr_rloc"],
                    r["xtr_id"],
                    r["nonce"],
                    "yes" if r["unacknowledged"] else "no",
                    f"{r['expires_in_s']:.0f}s",
                )
                for r in result
            ],
        )
    if topic == "nat":
        return _nat(result)
    if topic == "referral-cache":
        return table(
            ("EID prefix", "action", "expires", "incomplete", "referrals"),
            [
                (
                    _eid(r),
                    r["action"],
                    f"{r['expires_in_s']:.0f}s",
                    "yes" if r["incomplete"] else "no",
                    _referral_set(r),
                )
                for r in result
            ],
        )
    if topic == "delegations":
        return table(
            ("EID prefix", "action", "TTL", "referrals"),
            [
                (
                    _eid(r),
                    r["action"],
                    f"{r['ttl']}m" if "ttl" in r else "-",
                    _referral_set(r),
                )
                for r in result
            ],
        )
    if topic == "database":
        return table(
            ("EID prefix", "RLOCs", "registration"),
            [
                (
                    _eid(r),
                    _rlocs(r),
                    "dynamic: its hosts are registered"
                    if r.get("dynamic")
                    else ", ".join(
                        f"{s.get('map_server')}: {s.get('state')}"
                        for s in r.get("registrations", [])
                    )
                    or "-",
                )
                for r in result
            ],
        )
    return "\n".join(str(entry) for entry in result)


def _nat(result: list[dict[str, Any]]) -> str:
    """An RTR's NAT table (rows with an xTR-ID), or an xTR's view of its NAT."""
    if "xtr_id" in result[0]:
        return table(
            ("xTR-ID", "translated", "private RLOC", "EID prefixes", "expires"),
            [
                (
                    r["xtr_id"],
                    r["translated"],
                    r["private_rloc"],
                    ", ".join(r["eid_prefixes"]),
                    f"{r['expires_in_s']:.0f}s",
                )
                for r in result
            ],
        )
    return table(
        ("Map-Server", "global RLOC", "behind NAT", "RTRs", "Info-Requests", "Info-Replies"),
        [
            (
                r["map_server"],
                "-" if r["global_rloc"] is None else f"{r['global_rloc']}:{r['global_port']}",
                "yes" if r["behind_nat"] else "no",
                ", ".join(r["rtrs"]) or "-",
                r["info_requests_sent"],
                r["info_replies"],
            )
            for r in result
        ],
    )
