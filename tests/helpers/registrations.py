"""Registration objects for tests of the store and the answers built from it."""

from __future__ import annotations

from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.registrations import Registration


def registration(
    prefix: EidPrefix | str,
    etr: str = "10.0.1.1",
    *,
    site: str = "a",
    record: object = "r",
    now: float = 0,
    expires_at: float = 180,
    proxy_reply: bool = False,
) -> Registration:
    """What `etr` registered for `prefix`; `record` may be any comparable stand-in."""
    return Registration(
        site=site,
        prefix=EidPrefix.parse(prefix) if isinstance(prefix, str) else prefix,
        etr=etr,
        record=record,  # type: ignore[arg-type]
        registered_by=etr,
        proxy_reply=proxy_reply,
        xtr_id=None,
        nonce=1,
        first_registered=now,
        last_registered=now,
        expires_at=expires_at,
    )
