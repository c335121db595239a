"""The Map-Server's `show sites` and `show registrations [EID]` answers (JSON-able).

registrations: one entry per live (EID prefix, ETR) registration, the
mapping record (docs/interfaces.md shape) plus `site`, `registered_by` (source
RLOC of the last Map-Register), `proxy_reply`, `last_registered_s`,
`expires_in_s`, `uptime_s` and `xtr_id` (hex, or null). With an EID (or
prefix) argument, only the registrations of the longest registered prefix
that holds it; an argument that is not an EID matches nothing.

sites: one entry per configured site: `site`, `eid_prefixes`, `keys` (how
many), `key_ids`, `accept_more_specifics`, `registered` (anything live), and
`prefixes`, one per configured prefix with its own `registered`,
`registrations` (live ones, more-specifics included) and
`last_registered_s` (since the last accepted Map-Register under it, null if
never).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from lispstack.core.sites import SiteTable
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.registrations import Registration, RegistrationStore


def registration_entries(
    store: RegistrationStore, eid: str | None, now: float
) -> list[dict[str, object]]:
    if eid:
        chosen = _longest_match(store, EidPrefix.parse(eid))  # ValueError: not an EID
        entries = [(p, r) for p, r in store.items() if p == chosen]
    else:
        entries = store.items()
    return [
        _entry(registration, now) for _, registration in entries if registration.expires_at > now
    ]


def _entry(registration: Registration, now: float) -> dict[str, object]:
    return {
        **registration.record.to_json(),
        "site": registration.site,
        "registered_by": registration.registered_by,
        "proxy_reply": registration.proxy_reply,
        "xtr_id": None if registration.xtr_id is None else f"0x{registration.xtr_id:032x}",
        "last_registered_s": round(now - registration.last_registered, 3),
        "expires_in_s": round(registration.expires_at - now, 3),
        "uptime_s": round(now - registration.first_registered, 3),
    }


def _longest_match(store: RegistrationStore, wanted: EidPrefix) -> EidPrefix | None:
    """The most specific registered prefix that contains `wanted`."""
    if wanted.network.prefixlen == wanted.network.max_prefixlen:
        found = store.lookup(wanted.iid, wanted.network.network_address)
        return None if found is None else found[0]
    covering = [p for p, _ in store.items() if p.contains(wanted)]
    return max(covering, key=lambda p: p.network.prefixlen, default=None)


def site_entries(
    sites: SiteTable,
    store: RegistrationStore,
    last_registered: Mapping[EidPrefix, float],
    now: float,
) -> list[dict[str, object]]:
    live: Counter[EidPrefix] = Counter()
    for prefix, registration in store.items():
        if registration.expires_at > now:
            site_prefix = sites.site_for(prefix)
            if site_prefix is not None:
                live[site_prefix.prefix] += 1
    answer: list[dict[str, object]] = []
    for site in sites.sites:
        prefixes = []
        for prefix in sites.prefixes_of(site):
            last = last_registered.get(prefix)
            prefixes.append(
                {
                    "eid_prefix": str(prefix),
                    "registered": live[prefix] > 0,
                    "registrations": live[prefix],
                    "last_registered_s": None if last is None else round(now - last, 3),
                }
            )
        answer.append(
            {
                "site": site.name,
                "eid_prefixes": [p["eid_prefix"] for p in prefixes],
                "keys": len(site.keys),
                "key_ids": sorted(key.key_id for key in site.keys),
                "accept_more_specifics": site.accept_more_specifics,
                "registered": any(p["registered"] for p in prefixes),
                "prefixes": prefixes,
            }
        )
    return answer
